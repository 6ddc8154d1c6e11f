"""Adversarial attacks and robustness of the MNIST classifiers, next to the published anchors (issue 19, section 5).

    GENZOO_DATA=... python benchmarks/adversarial.py [--n 1000] [--section attacks,advgan,robust,tradeoff,peer]
        [--robust CLASSIFIER ...] [--advgan RUN_DIR]

Sections:
  attacks   undefended lenet-mnist: FGSM at ε 0.1/0.2/0.3 and PGD-40 (step 0.01, random start) at ε 0.3
            (anchors: the PyTorch FGSM tutorial's LeNet 90.8 / 50.3 / 16.0 %; PGD at 0.3 about 0 %)
  advgan    success rate and images/s of a trained AdvGAN (--advgan RUN_DIR) next to PGD-40's (anchor ~97-98 %)
  robust    for each --robust weights file: clean, PGD-40 at ε 0.3, PGD-100 with --restarts restarts
            (anchors: Madry et al. 98.8 % clean / 89.3 % PGD-100 x20; TRADES 99.48 % / ~92.5 %)
  tradeoff  clean, PGD-40 and mean corruption accuracy of lenet-mnist and every --robust classifier
  peer      torchattacks FGSM/PGD on the same model and images (needs torchattacks; skipped if absent)

Training the classifiers and the AdvGAN is done with the CLI (budgets in docs/results/attacks.md):
    genzoo classifier train --dataset mnist --adversarial fgsm-rs --eps 0.3 --finetune lenet-mnist --epochs 1 --out adv.safetensors
    genzoo classifier train --dataset mnist --adversarial pgd --eps 0.3 --pgd-steps 10 --epochs 8 --out pgd.safetensors
    genzoo classifier train --dataset mnist --augment corruptions --finetune lenet-mnist --epochs 1 --out corr.safetensors
    genzoo train advgan --dataset mnist --steps 2000 --out runs/advgan-mnist
    genzoo classifier train --dataset mnist --adversarial advgan --generator runs/advgan-mnist --finetune lenet-mnist --epochs 1 --out advgan-ft.safetensors
"""
from __future__ import annotations

import argparse
import time

import torch

from genzoo.attack import PixelModel, load_target, robust_accuracy
from genzoo.attack.evaluate import load_images
from genzoo.errors import exit_on_user_error


def row(name, *cells):
    print(f"| {name} | " + " | ".join(cells) + " |")


def pct(v):
    return f"{100 * v:.1f} %"


def attacks(model, x, y):
    print("\n## Undefended lenet-mnist\n\n| attack | ε | accuracy | anchor |\n|---|---|---|---|")
    f = robust_accuracy(model, x, y, "fgsm", [0.1, 0.2, 0.3])
    for e, anchor in zip(["0.1", "0.2", "0.3"], ["90.8 %", "50.3 %", "16.0 %"]):
        row("FGSM", e, pct(f["eps"][e]["accuracy"]), anchor + " (PyTorch tutorial LeNet)")
    p = robust_accuracy(model, x, y, "pgd", [0.3], steps=40, step_size=0.01)
    row("PGD-40", "0.3", pct(p["eps"]["0.3"]["accuracy"]), "≈ 0 %")
    print(f"\nclean accuracy {pct(f['clean_accuracy'])} on the first {len(y)} test images")
    return p


def advgan(model, x, y, run_dir, pgd_row):
    from genzoo.attack.advgan import load_generator
    gen = load_generator(run_dir, {"dataset": "mnist", "key": "mnist"})
    a = robust_accuracy(model, x, y, "advgan", [0.3], generator=gen)["eps"]["0.3"]
    print("\n## AdvGAN vs PGD-40 at ε 0.3\n\n| attack | success rate | images/s | anchor |\n|---|---|---|---|")
    row("AdvGAN", pct(a["success_rate"]), f"{a['images_per_s']:.0f}", "97-98 % (Xiao et al. 2018)")
    p = pgd_row["eps"]["0.3"]
    row("PGD-40", pct(p["success_rate"]), f"{p['images_per_s']:.0f}", "")


def robust(specs, x, y, restarts):
    print(f"\n## Robust classifiers, ε 0.3\n\n| classifier | clean | PGD-40 | PGD-100 x{restarts} |\n|---|---|---|---|")
    for spec in specs:
        m = PixelModel(load_target(spec)[0])
        p40 = robust_accuracy(m, x, y, "pgd", [0.3], steps=40, step_size=0.01)
        p100 = robust_accuracy(m, x, y, "pgd", [0.3], steps=100, step_size=0.01, restarts=restarts)
        row(spec, pct(p40["clean_accuracy"]), pct(p40["eps"]["0.3"]["accuracy"]), pct(p100["eps"]["0.3"]["accuracy"]))
    row("anchor: Madry et al. 2018", "98.8 %", "", "89.3 % (x20)")
    row("anchor: TRADES", "99.48 %", "", "≈ 92.5 %")


def tradeoff(specs, x, y, n):
    from genzoo.attack.corruptions import corruption_robustness
    print("\n## Trade-off\n\n| classifier | clean | PGD-40 ε 0.3 | mean corruption accuracy |\n|---|---|---|---|")
    for spec in ["lenet-mnist", *specs]:
        m = PixelModel(load_target(spec)[0])
        p = robust_accuracy(m, x, y, "pgd", [0.3], steps=40, step_size=0.01)
        c = corruption_robustness(spec, "mnist", n=n)
        row(spec, pct(p["clean_accuracy"]), pct(p["eps"]["0.3"]["accuracy"]), pct(c["mean_corruption_accuracy"]))


def peer(model, x, y):
    try:
        import torchattacks
    except ImportError:
        print("\n(peer check skipped: pip install torchattacks --no-deps)")
        return
    print("\n## Peer check (torchattacks)\n\n| attack | genzoo | torchattacks |\n|---|---|---|")
    g = robust_accuracy(model, x, y, "fgsm", [0.3])["eps"]["0.3"]["accuracy"]
    t = (model(torchattacks.FGSM(model, eps=0.3)(x, y)).argmax(1) == y).float().mean().item()
    row("FGSM ε 0.3", pct(g), pct(t))
    g = robust_accuracy(model, x, y, "pgd", [0.3], steps=40, step_size=0.01)["eps"]["0.3"]["accuracy"]
    t = (model(torchattacks.PGD(model, eps=0.3, alpha=0.01, steps=40)(x, y)).argmax(1) == y).float().mean().item()
    row("PGD-40 ε 0.3", pct(g), pct(t))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--section", default="attacks,advgan,robust,tradeoff,peer")
    ap.add_argument("--robust", nargs="*", default=[], help="robustly trained weights files")
    ap.add_argument("--advgan", help="an advgan run directory")
    ap.add_argument("--restarts", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    t0 = time.perf_counter()
    x, y = load_images("mnist", "test", a.n)
    model = PixelModel(load_target("lenet-mnist")[0])
    sec = a.section.split(",")
    p = attacks(model, x, y) if "attacks" in sec or "advgan" in sec else None
    if "advgan" in sec and a.advgan:
        advgan(model, x, y, a.advgan, p)
    if "robust" in sec and a.robust:
        robust(a.robust, x, y, a.restarts)
    if "tradeoff" in sec:
        tradeoff(a.robust, x, y, a.n)
    if "peer" in sec:
        peer(model, x, y)
    print(f"\n{time.perf_counter() - t0:.0f} s wall, n={a.n} test images")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
