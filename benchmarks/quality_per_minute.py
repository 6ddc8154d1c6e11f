"""Quality per CPU-minute: what a GAN recipe reaches on MNIST after 1, 2 and 5 minutes of training.

    python benchmarks/quality_per_minute.py [--candidates dcgan,ema,...] [--seeds 0] [--minutes 1,2,5]
                                            [--data-root ../shared/data] [--out runs/qpm]

Each candidate trains once per seed with `genzoo.train(..., minutes=LAST)`: wall time on this machine with
everything included (data loading, watchers, sample grids, checkpoints), the clock starting before the call.
The run keeps a checkpoint every 250 steps; for each mark the last checkpoint written before it is evaluated
on 10,000 samples against MNIST's test split: fid[lenet-mnist], precision, recall, and the class histogram
(the largest distance of a class's share from 10 %, in percentage points). The table is printed as markdown.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import genzoo
from genzoo.errors import exit_on_user_error
from genzoo.run import Run

# name -> (recipe, overrides). Each adds one change to the line above it unless said otherwise.
CANDIDATES = {
    "dcgan": ("dcgan", []),                                          # the paper recipe as it ships
    "ema": ("dcgan", ["optim.ema=0.999"]),                           # + an EMA of G for sampling
    "ema-hinge": ("dcgan", ["optim.ema=0.999", "loss.name=hinge"]),  # + the hinge loss
    "ema-ttur": ("dcgan", ["optim.ema=0.999", "optim.lr_d=0.0004", "optim.lr_g=0.0001"]),  # ema + TTUR
    "ema-b128": ("dcgan", ["optim.ema=0.999", "train.batch_size=128", "optim.lr_d=0.0004",
                           "optim.lr_g=0.0004"]),                    # ema + batch 128, learning rates x2
    "ema-wide": ("dcgan", ["optim.ema=0.999", "model.d_width=96", "model.g_width=96"]),  # ema + wider nets
    "infogan": ("infogan", []),                                      # the InfoGAN paper recipe (FC layers, batch 128)
    "info": ("dcgan", ["model.cond=info", "model.z_dim=62", "optim.lr_g=0.001"]),  # dcgan nets + InfoGAN's codes
    "info-ema": ("dcgan", ["model.cond=info", "model.z_dim=62", "optim.lr_g=0.001", "optim.ema=0.999"]),
    "fast": ("fast", []),                                            # the recipe the demo uses
}


def checkpoint_times(run: Path, start: float) -> list[tuple[float, Path]]:
    """(seconds since the start, checkpoint) for every checkpoint, by the time its JSON was written."""
    return sorted((p.stat().st_mtime - start, p) for p in (run / "checkpoints").glob("step_*.json"))


def measure(run: Run, ckpt: Path, data_root: str | None) -> dict:
    algo = run.algo_at(ckpt)
    m = genzoo.evaluate(algo, reference="mnist", data_root=data_root, n=10_000, metrics="fid,pr,modes")["metrics"]
    counts = m["modes"]["counts"]
    shares = [c / sum(counts) for c in counts]
    return {"step": int(ckpt.stem.split("_")[1]), "fid": m["fid[lenet-mnist]"]["value"],
            "precision": m["precision"]["value"],
            "recall": m["recall"]["value"], "class_dev_pp": 100 * max(abs(s - 0.1) for s in shares)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidates", default="dcgan,ema,ema-hinge,ema-ttur,ema-b128,ema-wide")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--minutes", default="1,2,5")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default="runs/qpm")
    args = ap.parse_args()
    marks = [float(m) for m in args.minutes.split(",")]
    rows = []
    for name in args.candidates.split(","):
        recipe, overrides = CANDIDATES[name]
        for seed in (int(s) for s in args.seeds.split(",")):
            out = Path(args.out) / f"{name}-s{seed}"
            shutil.rmtree(out, ignore_errors=True)
            start = time.time()
            run = genzoo.train(recipe, out=out, dataset="mnist", data_root=args.data_root, seed=seed,
                               steps=1_000_000, minutes=marks[-1], progress=False,
                               overrides=overrides + ["train.ckpt_every=250", "train.keep_ckpts=0",
                                                      "train.report=false"])
            wall = time.time() - start
            times = checkpoint_times(out, start)
            for mark in marks:
                t, ckpt = max(((t, p) for t, p in times if t <= mark * 60 + 1), default=times[0])
                r = measure(run, ckpt, args.data_root) | {"candidate": name, "seed": seed, "minutes": mark,
                                                          "at_s": round(t)}
                rows.append(r)
                print(json.dumps(r), flush=True)
            print(f"# {name} seed {seed}: {run.step} steps in {wall:.0f} s", flush=True)
    print("\n| candidate | minutes | steps | fid[lenet-mnist] | precision | recall | max class deviation (pp) |")
    print("|---|---|---|---|---|---|---|")
    for name in dict.fromkeys(r["candidate"] for r in rows):
        for mark in marks:
            rs = [r for r in rows if r["candidate"] == name and r["minutes"] == mark]

            def fmt(k, d=2):
                vals = [r[k] for r in rs]
                return f"{statistics.mean(vals):.{d}f}" + (f" ± {statistics.stdev(vals):.{d}f}" if len(vals) > 1 else "")
            print(f"| {name} | {mark:g} | {fmt('step', 0)} | {fmt('fid')} | {fmt('precision')} | {fmt('recall')} | "
                  f"{fmt('class_dev_pp', 1)} |")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
