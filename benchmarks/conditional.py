"""Conditional generation on MNIST: label accuracy of the three CGAN variants, FID against the
unconditional dcgan at equal steps, and InfoGAN's categorical accuracy.

    python benchmarks/conditional.py [--steps 2000] [--data-root ../shared/data] [--out runs/conditional]
                                     [--only cgan,acgan,...] [--n 10000] [--seed 0]

Trains (or, when a run directory already holds the final step, reuses) dcgan, cgan,
cgan-projection, acgan and infogan for the same number of steps, then for each prints:
label accuracy (samples generated for class y that the lenet-mnist classifier calls y), or for
InfoGAN the accuracy after matching categories to digits with the Hungarian algorithm;
fid[lenet-mnist] on 10,000 samples against the test split; the classes covered; the training
wall time. It also writes, per run, a class grid (`genzoo sample --grid-by-class`) and, for
InfoGAN, the traversals of both continuous codes (`genzoo traverse`).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from genzoo import checkpoint
from genzoo.cli import main as genzoo
from genzoo.config import load_recipe
from genzoo.evaluate import evaluate_run
from genzoo.run import ckpt_dir
from genzoo.train import train

RECIPES = ("dcgan", "cgan", "cgan-projection", "acgan", "infogan")


def ensure_run(recipe: str, steps: int, root: str | None, out: Path, seed: int = 0) -> tuple[Path, float | None]:
    run = out / recipe
    last = checkpoint.latest(ckpt_dir(run))
    if last is not None and checkpoint.load(last)[1]["step"] >= steps:
        return run, None
    cfg = load_recipe(recipe, "mnist")
    cfg.set("data.root", root)
    cfg.set("train.steps", steps)
    cfg.set("train.seed", seed)
    t = time.perf_counter()
    train(cfg, run, resume=last is not None, progress=False)
    return run, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default="runs/conditional")
    ap.add_argument("--only", default=",".join(RECIPES))
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    rows = []
    for recipe in args.only.split(","):
        run, secs = ensure_run(recipe, args.steps, args.data_root, out, args.seed)
        res = evaluate_run(run, n=args.n, metrics="fid,modes")
        m = res["metrics"]
        acc = m.get("label_accuracy", m.get("category_accuracy", {})).get("value")
        rows.append((recipe, acc, m["fid[lenet-mnist]"]["value"], m["modes"]["classes_covered"], secs,
                     m.get("category_accuracy", {}).get("mapping")))
        if recipe != "dcgan":
            genzoo(["sample", str(run), "--grid-by-class", "--out", str(run / "class_grid.png")])
        if recipe == "infogan":
            for code in (0, 1):
                genzoo(["traverse", str(run), "--code", str(code), "--out", str(run / f"traverse_code{code}.png")])
    print(f"\nMNIST, {args.steps} steps each, n={args.n}")
    print(f"{'recipe':<16} {'label acc':>9} {'fid[lenet-mnist]':>16} {'classes>=1%':>11} {'train s':>8}")
    for recipe, acc, fid, cov, secs, mapping in rows:
        a = "-" if acc is None else f"{acc:.1%}"
        s = "reused" if secs is None else f"{secs:.0f}"
        print(f"{recipe:<16} {a:>9} {fid:>16.2f} {cov:>11} {s:>8}"
              + (f"   categories -> digits {mapping}" if mapping else ""))


if __name__ == "__main__":
    main()
