"""Training diagnostics: the watchers' cost, and the signals behind the alert thresholds.

    python benchmarks/diagnostics.py overhead [--steps 300] [--repeats 3]
    python benchmarks/diagnostics.py signals [--seeds 5]

``overhead`` trains the dcgan recipe on the embedded MNIST and the nsgan recipe on ring8 with
the watchers on (their default intervals) and off, alternating in one process, and prints the
best wall time of each and their ratio. Grid rendering and checkpoints are pushed past the run
so only the steps and the watchers are timed.

``signals`` trains healthy and deliberately unstable runs and prints, per run, the alerts and
the extremes of the signals the thresholds act on (oscillation spread and level, fixed-batch
class/mode entropy after the warm-up), which is how the thresholds in genzoo.training.watch were set.
With ``--seeds N`` each run is repeated for seeds 0..N-1 and a last column counts the seeds on which the
run behaved as expected (healthy: no alert; provoked: its alert fired). These are the claims that the
``slow`` tests of tests/test_diagnostics.py check on one seed.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from genzoo.config_files import load_recipe
from genzoo.errors import exit_on_user_error
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


EXPECTED = {  # run -> the alerts it should raise (any of them); empty: none at all
    "healthy nsgan ring8": set(), "healthy dcgan embedded": set(), "nsgan ring8 lr 3e-3 b1 0.9": None,
    "minimax ring8 strong D": {"d_saturated", "vanishing_g_gradient"}, "nsgan grid25 lr 1e-2 b1 0.9": {"mode_collapse"},
}


def signals(seeds: int = 1) -> None:
    print(f"{'run':<28} {'seed':>4} {'max osc':>8} {'max osc_rel':>11} {'min entropy':>11}  alerts")
    for name, (recipe, dataset, over) in RUNS.items():
        ok = 0
        for seed in range(seeds):
            ok += _signals_one(name, recipe, dataset, {**over, "train.seed": seed})
        if seeds > 1 and EXPECTED.get(name) is not None:
            print(f"{name:<28} as expected on {ok} of {seeds} seeds")


def _signals_one(name: str, recipe: str, dataset: str, over: dict) -> bool:
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
    print(f"{name:<28} {over['train.seed']:>4} {max(osc, default=0):>8.1f} {max(rel, default=0):>11.2f} "
          f"{min(ent, default=float('nan')):>11.2f}  {', '.join(alerts) or '-'}")
    want, names = EXPECTED.get(name), {a.split("@")[0] for a in alerts}
    return want is not None and (names == set() if not want else bool(names & want))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--steps", type=int, default=300)
    o.add_argument("--repeats", type=int, default=3)
    s = sub.add_parser("signals")
    s.add_argument("--seeds", type=int, default=1, help="repeat each run for seeds 0..N-1")
    args = ap.parse_args()
    overhead(args.steps, args.repeats) if args.what == "overhead" else signals(args.seeds)


if __name__ == "__main__":
    with exit_on_user_error():
        main()
