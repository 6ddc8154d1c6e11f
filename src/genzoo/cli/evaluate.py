"""`genzoo evaluate`, `genzoo classifier` and `genzoo inception`: measuring."""
from __future__ import annotations

import argparse
from pathlib import Path

from genzoo.cli.common import add_device, add_nproc, open_run, relaunch


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="measure a trained run (or real data) and write metrics.json",
                       description="Generate from a run's latest checkpoint and measure it against the real test "
                                   "split on the features of the dataset's evaluation classifier: fid[lenet-*], "
                                   "kid[lenet-*] (100 subsets of 1,000), is[lenet-*], precision/recall (k=3), "
                                   "density/coverage (k=5) and the class histogram (modes.png). "
                                   "Toy runs report modes_captured, high_quality_fraction and reverse_kl on 2,500 "
                                   "samples (VEEGAN/PacGAN protocol) and draw toy.png. "
                                   "--real DATASET measures real train images against the test split: the floor "
                                   "every model's numbers should be read against. "
                                   "Inception FID, comparable with the literature, is optional: --inception uses the "
                                   "standard FID Inception-v3 weights where pytorch-fid or torch-fidelity cached them "
                                   "(torch.hub's checkpoints folder), --inception-weights PATH a file you supply "
                                   "(pt_inception-2015-12-05-6726825d.pth, weights-inception-2015-12-05-6726825d.pth "
                                   "or a .safetensors from `genzoo inception convert`). It adds fid/kid/is[inception-v3] "
                                   "and is slow on a CPU (images are resized to 299x299: minutes per 10,000).",
                       epilog="examples:\n  genzoo evaluate runs/dcgan-mnist --n 10000\n"
                              "  genzoo evaluate --real mnist --data-root ../shared/data\n"
                              "  genzoo evaluate runs/nsgan-toy-ring8\n"
                              "  genzoo evaluate runs/dcgan-cifar10 --inception-weights pt_inception-2015-12-05-6726825d.pth",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", nargs="?")
    p.add_argument("--real", metavar="DATASET", help="evaluate real train images of DATASET instead of a run")
    p.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    p.add_argument("--n", "--samples", dest="n", type=int,
                   help="generated samples (default 10000; toy runs 2500); under torchrun write --samples (its "
                        "own parser takes --n for one of its options)")
    p.add_argument("--metrics", help="comma list from fid,kid,is,pr,dc,modes (default: all)")
    p.add_argument("--k", type=int, default=100,
                   help="AE/VAE runs: importance samples per test image for the NLL bound (default 100; "
                        "Burda et al. use 5000); the bound tightens as k grows, so it is reported as nll[k=K]. "
                        "Costs k decoder passes per test image: seconds for the MLP vae, minutes for conv decoders")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="with --real: folder for metrics.json and modes.png")
    p.add_argument("--inception", action="store_true",
                   help="also compute fid/kid/is[inception-v3] with the cached standard weights")
    p.add_argument("--inception-weights", metavar="PATH",
                   help="FID Inception-v3 weights file; implies --inception")


def _add_classifier(sub) -> None:
    p = sub.add_parser("classifier", help="train the evaluation classifiers",
                       description="Evaluation classifiers (a small LeNet-like CNN per dataset) give the features "
                                   "for FID/KID/PR/DC and the labels for mode histograms. Weights for mnist (also "
                                   "used for the embedded set) and fashion-mnist ship with genzoo; this command "
                                   "reproduces them or trains new ones (cifar10, folder:PATH with class subfolders).")
    csub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    t = csub.add_parser("train", help="train a classifier and report its test accuracy")
    t.add_argument("--dataset", required=True, help="mnist, fashion-mnist, cifar10 or folder:PATH")
    t.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    t.add_argument("--epochs", type=int, help="default: 4 (mnist), 12 (fashion-mnist), 25 (cifar10)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="weights file (default ~/.cache/genzoo/classifiers/lenet-KEY.safetensors; "
                                 "with a defence lenet-KEY-DEFENCE.safetensors)")
    t.add_argument("--quiet", action="store_true")
    add_device(t)
    t.add_argument("--adversarial", choices=["pgd", "fgsm-rs", "advgan"],
                   help="adversarial training: PGD (Madry et al. 2018), FGSM with random start (Wong et al. 2020) "
                        "or examples from a trained AdvGAN (--generator)")
    t.add_argument("--eps", type=float, default=0.3, help="--adversarial: L-inf radius in [0, 1] pixels (default 0.3)")
    t.add_argument("--pgd-steps", type=int, default=10, help="--adversarial pgd: steps per batch (default 10)")
    t.add_argument("--generator", metavar="RUN_DIR", help="--adversarial advgan: a run of the advgan recipe")
    t.add_argument("--augment", choices=["corruptions"], help="train on MNIST-C-style corruptions")
    t.add_argument("--finetune", metavar="CLASSIFIER", help="start from a classifier (lenet-mnist or a weights file)")
    t.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")


def _add_inception(sub) -> None:
    p = sub.add_parser("inception", help="check or convert FID Inception-v3 weights (optional Inception FID)",
                       description="genzoo ships no Inception weights. With the standard FID file "
                                   "(pt_inception-2015-12-05-6726825d.pth from pytorch-fid or "
                                   "weights-inception-2015-12-05-6726825d.pth from torch-fidelity), `genzoo evaluate "
                                   "--inception-weights PATH` reports fid[inception-v3], comparable with published "
                                   "numbers. Those files are read with torch.load(weights_only=True), which cannot run "
                                   "code; `convert` writes a safetensors copy of the tensors genzoo uses.")
    isub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = isub.add_parser("convert", help="write a .safetensors copy of a FID Inception-v3 weights file")
    c.add_argument("src", help="pt_inception-2015-12-05-6726825d.pth or weights-inception-2015-12-05-6726825d.pth")
    c.add_argument("dst", help="output .safetensors file")
    isub.add_parser("where", help="say which weights file --inception would use")


def cmd_evaluate(args) -> int:
    import genzoo
    from genzoo.errors import GenzooError
    from genzoo.evaluation import evaluate_real, format_table

    if bool(args.real) == bool(args.run_dir):
        raise GenzooError("give either RUN_DIR or --real DATASET")
    if args.nproc is not None:
        return relaunch(args, "evaluate", ("run_dir",), ("real", "data_root", "n", "metrics", "k", "seed", "out",
                                                          "inception_weights", "device"), ("inception",))
    from genzoo.training.distributed import is_main_process, world_size_from_env
    inception = args.inception_weights or args.inception
    if args.real and world_size_from_env() > 1 and not is_main_process():
        return 0  # under torchrun, real data is measured by rank 0 alone
    if args.real:
        from genzoo.data import parse_spec
        parse_spec(args.real)
        result = evaluate_real(args.real, args.data_root, args.n, args.metrics, Path(args.out) if args.out else None,
                               inception, progress=True)
        print(format_table(result))
        if args.out:
            print(f"wrote {Path(args.out) / 'metrics.json'}")
        return 0
    main = is_main_process()  # under torchrun every rank evaluates its share; rank 0 prints
    result = genzoo.evaluate(open_run(args), n=args.n, seed=args.seed, metrics=args.metrics, k=args.k,
                             inception=inception, progress=main)
    if not main:
        return 0
    print(format_table(result))
    print(f"wrote {Path(args.run_dir) / 'metrics.json'}")
    return 0


def cmd_classifier(args) -> int:
    from genzoo.data import parse_spec
    from genzoo.metrics.classifier import train_classifier

    parse_spec(args.dataset)
    if args.adversarial or args.augment or args.finetune:  # robust training: genzoo.attack.training
        from genzoo.attack.training import default_out, robust_train
        out = Path(args.out) if args.out else default_out(args.dataset, args.adversarial, args.augment)
        path, acc = robust_train(args.dataset, args.adversarial, args.eps, augment=args.augment,
                                 steps=args.pgd_steps, finetune=args.finetune, generator_run=args.generator,
                                 root=args.data_root, epochs=args.epochs, seed=args.seed, out=out,
                                 progress=not args.quiet, lr=args.lr, device=args.device)
        print(f"test accuracy {100 * acc:.2f}% on {args.dataset}; weights: {path}")
        return 0
    path, acc = train_classifier(args.dataset, args.data_root, args.epochs, args.seed,
                                 Path(args.out) if args.out else None, progress=not args.quiet, device=args.device)
    print(f"test accuracy {100 * acc:.2f}% on {args.dataset}; weights: {path}")
    return 0


def cmd_inception(args) -> int:
    from genzoo.errors import GenzooError
    from genzoo.metrics.inception import MISSING, convert_weights, find_weights

    if args.action == "where":
        path = find_weights()
        print(path if path else MISSING)
        return 0 if path else 1
    dst = Path(args.dst)
    if dst.suffix != ".safetensors":
        raise GenzooError(f"{dst}: the output must end in .safetensors")
    n = convert_weights(find_weights(args.src), dst)
    print(f"wrote {n} tensors to {dst}")
    return 0


def add(sub) -> None:
    _add_evaluate(sub)
    _add_classifier(sub)
    _add_inception(sub)
    sub.choices["evaluate"].set_defaults(func=cmd_evaluate)
    sub.choices["classifier"].set_defaults(func=cmd_classifier)
    sub.choices["inception"].set_defaults(func=cmd_inception)
    add_device(sub.choices["evaluate"])
    add_nproc(sub.choices["evaluate"], "evaluate")
