"""Training diagnostics: the watchers' cost, and the signals behind the alert thresholds.

    python benchmarks/diagnostics.py overhead [--steps 300] [--repeats 3]
    python benchmarks/diagnostics.py signals

``overhead`` trains the dcgan recipe on the embedded MNIST and the nsgan recipe on ring8 with
the watchers on (their default intervals) and off, alternating in one process, and prints the
best wall time of each and their ratio. Grid rendering and checkpoints are pushed past the run
so only the steps and the watchers are timed.

``signals`` trains healthy and deliberately unstable runs and prints, per run, the alerts and
the extremes of the signals the thresholds act on (oscillation spread and level, fixed-batch
class/mode entropy after the warm-up), which is how the thresholds in genzoo.diagnostics were set.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from genzoo.config import load_recipe
from genzoo.training.loop import train


def timed_run(recipe: str, dataset: str, steps: int, watch: bool) -> float:
    cfg = load_recipe(recipe, dataset)
    for k, v in {"train.steps": steps, "train.sample_every": 10 ** 9, "train.ckpt_every": 10 ** 9,
                 "watch.enabled": watch}.items():
        cfg.set(k, v)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        train(cfg, Path(tmp) / "run", progress=False)
        return time.perf_counter() - t


def overhead(steps: int, repeats: int) -> None:
    print(f"{'run':<22} {'watch off s':>11} {'watch on s':>11} {'overhead':>9}")
    for recipe, dataset in (("dcgan", "embedded"), ("nsgan", "toy:ring8")):
        n = steps if dataset == "embedded" else steps * 5
        timed_run(recipe, dataset, 20, True)  # warm-up: imports, classifier load, allocator
        off, on = [], []
        for _ in range(repeats):
            off.append(timed_run(recipe, dataset, n, False))
            on.append(timed_run(recipe, dataset, n, True))
        a, b = min(off), min(on)
        print(f"{recipe + ' ' + dataset + f' {n}':<22} {a:>11.2f} {b:>11.2f} {b / a - 1:>+9.1%}")


RUNS = {
    "healthy nsgan ring8": ("nsgan", "toy:ring8", {}),
    "healthy dcgan embedded": ("dcgan", "embedded", {"train.steps": 1000}),
    "nsgan ring8 lr 3e-3 b1 0.9": ("nsgan", "toy:ring8", {"optim.lr_d": 3e-3, "optim.lr_g": 3e-3,
                                                        "optim.beta1": 0.9, "train.steps": 2000}),
    "minimax ring8 strong D": ("gan", "toy:ring8", {"optim.lr_d": 5e-3, "optim.lr_g": 1e-4,
                                                    "train.n_critic": 5, "train.steps": 800}),
    "nsgan grid25 lr 1e-2 b1 0.9": ("nsgan", "toy:grid25", {"optim.lr_d": 1e-2, "optim.lr_g": 1e-2,
                                                          "optim.beta1": 0.9, "train.steps": 1000}),
}


def signals() -> None:
    print(f"{'run':<28} {'max osc':>8} {'max osc_rel':>11} {'min entropy':>11}  alerts")
    for name, (recipe, dataset, over) in RUNS.items():
        cfg = load_recipe(recipe, dataset)
        for k, v in over.items():
            cfg.set(k, v)
        with tempfile.TemporaryDirectory() as tmp:
            out = train(cfg, Path(tmp) / "run", progress=False)
            recs = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines() if ln.strip()]
        rows = [r for r in recs if "event" not in r]
        alerts = sorted({f"{r['alert']}@{r['step']}" for r in recs if r.get("event") == "alert"},
                        key=lambda s: int(s.split("@")[1]))
        osc = [r["osc"] for r in rows if r.get("osc") is not None]
        rel = [r["osc_rel"] for r in rows if r.get("osc_rel") is not None]
        ent = [r["class_entropy"] for r in rows if r.get("class_entropy") is not None
               and r["step"] >= cfg.watch.warmup]
        print(f"{name:<28} {max(osc, default=0):>8.1f} {max(rel, default=0):>11.2f} "
              f"{min(ent, default=float('nan')):>11.2f}  {', '.join(alerts) or '-'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--steps", type=int, default=300)
    o.add_argument("--repeats", type=int, default=3)
    sub.add_parser("signals")
    args = ap.parse_args()
    overhead(args.steps, args.repeats) if args.what == "overhead" else signals()


if __name__ == "__main__":
    main()
