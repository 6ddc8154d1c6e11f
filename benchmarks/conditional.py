"""Conditional generation on MNIST: label accuracy of the three CGAN variants, FID against the
unconditional dcgan at equal steps, and InfoGAN's categorical accuracy.

    python benchmarks/conditional.py [--steps 2000] [--data-root ../shared/data] [--out runs/conditional]
                                     [--only cgan,acgan,...] [--n 10000] [--seed 0 | --seeds 0,1,2,3,4]
                                     [--set key=value ...]

Trains (or, when a run directory already holds the final step, reuses) dcgan, cgan,
cgan-projection, acgan, infogan and infogan-cr (InfoGAN with consistency regularisation) for
the same number of steps, then for each prints:
label accuracy (samples generated for class y that the lenet-mnist classifier calls y), or for
InfoGAN the accuracy after matching categories to digits with the Hungarian algorithm;
fid[lenet-mnist] on 10,000 samples against the test split; the classes covered; the training
wall time. It also writes, per run, a class grid (`genzoo sample --grid-by-class`) and, for
InfoGAN, the traversals of both continuous codes (`genzoo traverse`).

With ``--seeds`` every recipe is trained once per seed (run directories ``RECIPE-seedS``) and a
summary line gives the spread: mean, min and max accuracy and how many seeds reach 90 %. InfoGAN's
categories depend on the initialisation, so one seed says little. ``--set`` overrides recipe keys
(as ``genzoo train --set`` does) for every run.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from genzoo.errors import exit_on_user_error
from genzoo.training import checkpoint
from genzoo.cli import main as genzoo
from genzoo.config_files import load_recipe
from genzoo.evaluation import evaluate
from genzoo.training.checkpoint import ckpt_dir
from genzoo.training.loop import train

RECIPES = ("dcgan", "cgan", "cgan-projection", "acgan", "infogan", "infogan-cr")


def ensure_run(recipe: str, steps: int, root: str | None, out: Path, seed: int = 0,
               name: str | None = None, overrides: tuple[str, ...] = ()) -> tuple[Path, float | None]:
    run = out / (name or recipe)
    last = checkpoint.latest(ckpt_dir(run))
    if last is not None and checkpoint.load(last)[1]["step"] >= steps:
        return run, None
    cfg = load_recipe(recipe, "mnist")
    cfg.set("data.root", root)
    cfg.set("train.steps", steps)
    cfg.set("train.seed", seed)
    cfg.apply_overrides(list(overrides))
    t = time.perf_counter()
    train(cfg, run, resume=last is not None, progress=False)
    return run, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default="runs/conditional")
    ap.add_argument("--only", default=",".join(RECIPES))
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", default=None, help="comma-separated seeds; one run per recipe and seed")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override")
    args = ap.parse_args()
    out = Path(args.out)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    rows = []
    for recipe, seed in ((r, s) for r in args.only.split(",") for s in seeds):
        name = f"{recipe}-seed{seed}" if args.seeds else recipe
        run, secs = ensure_run(recipe, args.steps, args.data_root, out, seed, name, tuple(args.set))
        res = evaluate(run, n=args.n, metrics="fid,modes")
        m = res["metrics"]
        acc = m.get("label_accuracy", m.get("category_accuracy", {})).get("value")
        rows.append((name, acc, m["fid[lenet-mnist]"]["value"], m["modes"]["classes_covered"], secs,
                     m.get("category_accuracy", {}).get("mapping")))
        if recipe != "dcgan":
            genzoo(["sample", str(run), "--grid-by-class", "--out", str(run / "class_grid.png")])
        print(f"{name}: accuracy {acc if acc is None else round(acc, 4)}, trained in "
              f"{'reused' if secs is None else f'{secs:.0f} s'}", flush=True)
        if recipe.startswith("infogan") and not args.seeds:
            for code in (0, 1):
                genzoo(["traverse", str(run), "--code", str(code), "--out", str(run / f"traverse_code{code}.png")])
    print(f"\nMNIST, {args.steps} steps each, n={args.n}" + (f", overrides {args.set}" if args.set else ""))
    print(f"{'recipe':<20} {'label acc':>9} {'fid[lenet-mnist]':>16} {'classes>=1%':>11} {'train s':>8}")
    for recipe, acc, fid, cov, secs, mapping in rows:
        a = "-" if acc is None else f"{acc:.1%}"
        s = "reused" if secs is None else f"{secs:.0f}"
        print(f"{recipe:<20} {a:>9} {fid:>16.2f} {cov:>11} {s:>8}"
              + (f"   categories -> digits {mapping}" if mapping else ""))
    if args.seeds:
        for recipe in args.only.split(","):
            accs = [acc for name, acc, *_ in rows if name.rsplit("-seed", 1)[0] == recipe and acc is not None]
            if accs:
                print(f"{recipe}: {len(accs)} seeds, accuracy mean {sum(accs) / len(accs):.1%}, "
                      f"min {min(accs):.1%}, max {max(accs):.1%}, {sum(a >= 0.9 for a in accs)} of {len(accs)} >= 90 %")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
