"""`genzoo attack` and `genzoo robustness`: how a classifier holds up under adversarial and corrupted inputs."""
from __future__ import annotations

import argparse
from pathlib import Path

from genzoo.cli.common import add_device, float_list


CLASSIFIER_HELP = ("lenet-mnist, lenet-fashion-mnist, a weights file from `genzoo classifier train` "
                   "(plain or --adversarial/--augment), or a folder holding one")


def _add_attack(sub) -> None:
    p = sub.add_parser("attack", help="attack a classifier with FGSM, PGD or a trained AdvGAN",
                       description="Accuracy of a classifier under adversarial attack on the first --n test images. "
                                   "ε is in [0, 1] pixel units (as torchattacks and foolbox use). FGSM: Goodfellow "
                                   "et al. 2015; PGD: Madry et al. 2018 (L∞ or L2, random start, restarts, "
                                   "untargeted or --target); AdvGAN: Xiao et al. 2018, a generator trained with "
                                   "`genzoo train advgan`, one forward pass per image. Prints clean accuracy and, per "
                                   "ε, accuracy, success rate (share of correctly classified images flipped), mean "
                                   "L∞/L2 perturbation and images/s; --out writes attack.json, attack_eps.png and "
                                   "attack.png (clean | magnified perturbation | adversarial).",
                       epilog="examples:\n  genzoo attack lenet-mnist --method fgsm --eps 0.1,0.2,0.3\n"
                              "  genzoo attack lenet-mnist --method pgd --eps 0.3 --steps 40 --step-size 0.01 --out runs/atk\n"
                              "  genzoo attack lenet-mnist --method advgan --generator runs/advgan-mnist --eps 0.3",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("classifier", metavar="CLASSIFIER", help=CLASSIFIER_HELP)
    p.add_argument("--dataset", help="labelled images to attack (default: the classifier's dataset)")
    p.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    p.add_argument("--method", default="pgd", help="fgsm, pgd or advgan (default pgd)")
    p.add_argument("--eps", default="0.1,0.2,0.3", help="comma-separated ε in [0, 1] (default 0.1,0.2,0.3)")
    p.add_argument("--n", type=int, default=1000, help="test images attacked (default 1000)")
    p.add_argument("--steps", type=int, default=40, help="PGD iterations (default 40)")
    p.add_argument("--step-size", type=float, default=0.01, help="PGD step in pixel units (default 0.01)")
    p.add_argument("--restarts", type=int, default=1, help="PGD random restarts (default 1)")
    p.add_argument("--no-random-start", action="store_true", help="PGD starts at the clean image")
    p.add_argument("--norm", default="linf", help="PGD norm: linf or l2 (default linf)")
    p.add_argument("--target", type=int, help="targeted attack: the class to reach")
    p.add_argument("--generator", metavar="RUN_DIR", help="--method advgan: a run of the advgan recipe")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for attack.json, attack_eps.png and attack.png")


def _add_robustness(sub) -> None:
    p = sub.add_parser("robustness", help="accuracy under MNIST-C-style corruptions",
                       description="Accuracy of a classifier under 15 corruptions after MNIST-C (Mu & Gilmer 2019): "
                                   "shot noise, impulse noise, glass blur, motion blur, shear, scale, rotate, "
                                   "brightness, translate, stripe, fog, spatter, dotted line, zigzag, canny edges. "
                                   "Each is a seeded function written for genzoo (docs/attacks.md says where they "
                                   "differ from MNIST-C). --out writes robustness.json and robustness.png.")
    p.add_argument("classifier", metavar="CLASSIFIER", help=CLASSIFIER_HELP)
    p.add_argument("--dataset", help="labelled images (default: the classifier's dataset)")
    p.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    p.add_argument("--n", type=int, default=1000, help="test images per corruption (default 1000)")
    p.add_argument("--corruptions", help="comma-separated subset (default: all 15)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for robustness.json and robustness.png")


def cmd_attack(args) -> int:
    from genzoo.attack import attack_classifier, format_table
    from genzoo.errors import at_least_1

    at_least_1(n=args.n)
    kw = {}
    if args.method == "pgd":
        kw = dict(steps=args.steps, step_size=args.step_size, restarts=args.restarts, norm=args.norm,
                  random_start=not args.no_random_start, seed=args.seed)
    result = attack_classifier(args.classifier, args.dataset, args.method, float_list(args.eps, "--eps"), args.n,
                               args.out, args.generator, root=args.data_root, target=args.target,
                               device=args.device, **kw)
    print(format_table(result))
    if args.out:
        print(f"wrote {Path(args.out) / 'attack.json'}, attack_eps.png, attack.png")
    return 0


def cmd_robustness(args) -> int:
    from genzoo.attack.corruptions import corruption_robustness, format_robustness
    from genzoo.errors import at_least_1

    at_least_1(n=args.n)
    names = [c.strip() for c in args.corruptions.split(",")] if args.corruptions else None
    result = corruption_robustness(args.classifier, args.dataset, names, args.n, args.seed, args.out,
                                   root=args.data_root, device=args.device)
    print(format_robustness(result))
    if args.out:
        print(f"wrote {Path(args.out) / 'robustness.json'}, robustness.png")
    return 0


def add(sub) -> None:
    _add_attack(sub)
    _add_robustness(sub)
    sub.choices["attack"].set_defaults(func=cmd_attack)
    sub.choices["robustness"].set_defaults(func=cmd_robustness)
    add_device(sub.choices["attack"])
    add_device(sub.choices["robustness"])
