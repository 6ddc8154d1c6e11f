"""Mode coverage of every GAN recipe on toy:ring8 and toy:grid25, over several seeds.

    python benchmarks/toy_modes.py [--seeds 5] [--steps N] [--recipes nsgan,wgan-gp] [--out runs/bench-toy]

Each run uses the recipe's own toy settings; evaluation follows VEEGAN/PacGAN: 2,500 samples,
high quality = within 3 std of the nearest mode, a mode is captured by >= 1 high-quality sample.
Prints mean +- std of modes captured and high-quality fraction beside PacGAN's Table 1.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from genzoo.config_files import load_recipe
from genzoo.errors import exit_on_user_error
from genzoo.evaluation import evaluate
from genzoo.training.loop import train

PUBLISHED = [  # Lin et al. 2018 (PacGAN), Table 1: modes / high-quality %
    ("GAN (PacGAN Tab. 1)", "6.3", "98.2%", "17.3", "94.8%"),
    ("PacGAN4 (Tab. 1)", "7.8", "95.9%", "24.8", "93.6%"),
]
ALL = ["gan", "nsgan", "lsgan", "dcgan", "wgan", "wgan-gp", "hinge"]


def ms(xs: list[float], fmt: str) -> str:
    sd = statistics.pstdev(xs) if len(xs) > 1 else 0.0
    return f"{format(statistics.mean(xs), fmt)} ± {format(sd, fmt)}"


def run_one(task: tuple[str, str, int, int | None, str]) -> tuple[str, str, int, dict, float]:
    import torch

    recipe, toy, seed, steps, out = task
    torch.set_num_threads(1)  # one thread per worker: tiny MLPs do not scale, workers do
    cfg = load_recipe(recipe, f"toy:{toy}")
    cfg.set("train.seed", seed)
    cfg.set("train.sample_every", 10**9)
    if steps:
        cfg.set("train.steps", steps)
    run = Path(out) / f"{recipe}-{toy}-s{seed}"
    t = time.perf_counter()
    if not (run / "checkpoints").exists():
        train(cfg, run, progress=False)
    return recipe, toy, seed, evaluate(run)["metrics"], time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, help="override the recipes' toy step count")
    ap.add_argument("--recipes", default=",".join(ALL))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel worker processes")
    ap.add_argument("--out", default="runs/bench-toy")
    args = ap.parse_args()
    recipes = args.recipes.split(",")
    tasks = [(r, t, s, args.steps, args.out) for r in recipes for t in ("ring8", "grid25") for s in range(args.seeds)]
    results: dict[tuple[str, str], list[dict]] = {}
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for recipe, toy, seed, m, secs in pool.map(run_one, tasks):
            results.setdefault((recipe, toy), []).append(m)
            print(f"  {recipe:<8} {toy:<6} seed {seed}: {m['modes_captured']:>2} modes, "
                  f"{100 * m['high_quality_fraction']:.1f}% high quality, reverse KL {m['reverse_kl']:.3f} "
                  f"({secs:.0f} s)", flush=True)
    print(f"\n{'recipe':<22} {'ring8 modes':>13} {'ring8 HQ':>15} {'grid25 modes':>13} {'grid25 HQ':>15}")
    for r in recipes:
        cells = []
        for toy in ("ring8", "grid25"):
            ms_ = results[(r, toy)]
            cells += [ms([m["modes_captured"] for m in ms_], ".1f"),
                      ms([100 * m["high_quality_fraction"] for m in ms_], ".1f") + "%"]
        print(f"{r:<22} {cells[0]:>13} {cells[1]:>15} {cells[2]:>13} {cells[3]:>15}")
    for r in PUBLISHED:
        print(f"{r[0]:<22} {r[1]:>13} {r[2]:>15} {r[3]:>13} {r[4]:>15}")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
