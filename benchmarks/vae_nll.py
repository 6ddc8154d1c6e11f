"""Test NLL of the default `vae` recipe on dynamically binarised MNIST against training wall-clock time.

    python benchmarks/vae_nll.py [--minutes 30] [--chunk 10000] [--k 5000] [--data-root ../shared/data]
                                 [--out runs/bench-vae-nll] [--recipe vae] [--set KEY=VALUE ...]

Trains in chunks of ``--chunk`` steps (each chunk resumes the run exactly) until the next chunk
would pass the time budget; only training time counts against it. After each chunk it prints the
test ELBO (one posterior sample per image, all 10,000 test digits, one fixed binarisation) and a
quick NLL bound (k=100 on the first 1,000 test digits). At the end it prints the NLL of
Burda et al. 2016 (IS estimate with k=5000 on all 10,000 test digits) and writes
OUT/vae_nll.json and OUT/vae_nll.png (ELBO and NLL against minutes). The target is NLL <= 90
nats within 30 minutes on 2 CPU cores (Burda et al. report 86.76 for a one-layer VAE).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from genzoo.errors import exit_on_user_error
from genzoo.training import checkpoint
from genzoo.training.build import dataset_for
from genzoo.config_files import load_config_file, load_recipe
from genzoo.metrics.likelihood import heldout_likelihood
from genzoo.run import Run
from genzoo.training.checkpoint import ckpt_dir
from genzoo.training.loop import train


def measure(run: Path, x: torch.Tensor, k: int, n: int | None = None, progress: bool = False) -> dict:
    r = Run.open(run)
    algo, meta = r.algo, r.meta
    xs = x if n is None else x[:n]
    return {"step": meta["step"], **heldout_likelihood(algo, xs, None, k=k, progress=progress)}


def plot(rows: list[dict], final: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = [r["minutes"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=100)
    ax.plot(m, [-r["elbo"] for r in rows], "o-", label="-ELBO (test, 1 sample)")
    ax.plot(m, [r["nll_k100"] for r in rows], "s-", label="NLL bound, k=100 (1,000 test digits)")
    ax.axhline(90, color="gray", ls="--", lw=1, label="target 90 nats")
    ax.axhline(86.76, color="gray", ls=":", lw=1, label="Burda et al. 86.76")
    if final:
        ax.plot([m[-1]], [final["nll"]], "r*", ms=12, label=f"NLL k={final['k']}: {final['nll']:.2f}")
    ax.set_xlabel("training minutes (2 CPU cores)")
    ax.set_ylabel("nats per test digit")
    ax.set_ylim(80, max(130, min(200, max(-r["elbo"] for r in rows) + 2)))
    ax.legend(fontsize=7)
    ax.set_title("vae recipe on dynamically binarised MNIST", fontsize=9)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--chunk", type=int, default=10_000, help="steps between measurements")
    ap.add_argument("--k", type=int, default=5000, help="importance samples for the final NLL")
    ap.add_argument("--recipe", default="vae")
    ap.add_argument("--data-root")
    ap.add_argument("--out", default="runs/bench-vae-nll")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    run = Path(args.out)
    resume = checkpoint.latest(ckpt_dir(run)) is not None
    cfg = load_config_file(run / "config.yaml") if resume else load_recipe(args.recipe, "mnist")
    if not resume:
        cfg.set("data.root", args.data_root)
        cfg.apply_overrides(args.overrides)
    test = dataset_for(cfg, "test")
    x = test.batch(torch.arange(len(test)))["x"]
    log = run / "vae_nll.json"
    rows = json.loads(log.read_text())["rows"] if resume and log.exists() else []
    spent = rows[-1]["train_s"] if rows else 0.0
    budget = args.minutes * 60
    print(f"{'minutes':>8} {'steps':>7} {'epochs':>7} {'test ELBO':>10} {'NLL k=100':>10}")
    for r in rows:
        print(f"{r['minutes']:8.1f} {r['step']:7d} {r['epochs']:7.1f} {r['elbo']:10.2f} {r['nll_k100']:10.2f}")
    per_chunk = spent / len(rows) if rows else None
    while per_chunk is None or spent + per_chunk <= budget:
        step = rows[-1]["step"] if rows else 0
        cfg.set("train.steps", step + args.chunk)
        t = time.perf_counter()
        train(cfg, run, resume=bool(rows) or resume, progress=False)
        took = time.perf_counter() - t
        spent += took
        per_chunk = took
        q = measure(run, x, k=100, n=1000)
        full = measure(run, x, k=1)
        row = {"minutes": spent / 60, "train_s": spent, "step": q["step"],
               "epochs": q["step"] * cfg.train.batch_size / 60_000, "elbo": full["elbo"], "nll_k100": q["nll"]}
        rows.append(row)
        print(f"{row['minutes']:8.1f} {row['step']:7d} {row['epochs']:7.1f} {row['elbo']:10.2f} {row['nll_k100']:10.2f}",
              flush=True)
        log.write_text(json.dumps({"rows": rows}, indent=1))
    t = time.perf_counter()
    final = measure(run, x, k=args.k, progress=True)
    final = {"k": args.k, "nll": final["nll"], "elbo": final["elbo"], "step": final["step"],
             "eval_s": time.perf_counter() - t}
    log.write_text(json.dumps({"rows": rows, "final": final}, indent=1))
    plot(rows, final, run / "vae_nll.png")
    print(f"\nafter {spent / 60:.1f} training minutes ({final['step']} steps): test NLL (IS, k={args.k}, "
          f"10,000 digits) = {final['nll']:.2f} nats, ELBO = {final['elbo']:.2f}; "
          f"evaluation took {final['eval_s'] / 60:.1f} min. Figure: {run / 'vae_nll.png'}")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
