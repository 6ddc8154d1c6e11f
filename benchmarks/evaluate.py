"""Speed and sanity of `genzoo evaluate`.

    python benchmarks/evaluate.py RUN_DIR [--n 10000] [--prdc-sanity]

1. Times the evaluation of N generated samples against the cached reference (generation, feature
   extraction and every metric included), after one warm-up call that fills the reference cache.
2. With --prdc-sanity, repeats the official PRDC README example (10k vs 10k samples of N(0, I) in
   1000-D, k=5) over a few seeds and prints it beside the published values 0.4772 / 0.4705 / 1.0555 / 0.9735.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from genzoo.errors import exit_on_user_error
from genzoo.evaluation import evaluate, format_table
from genzoo.metrics import density_coverage, precision_recall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--prdc-sanity", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    if args.run_dir:
        evaluate(Path(args.run_dir), n=args.n, metrics="fid")  # warm-up: fills the reference cache
        t = time.perf_counter()
        result = evaluate(Path(args.run_dir), n=args.n)
        secs = time.perf_counter() - t
        print(format_table(result))
        print(f"\nevaluate of {args.n} generated samples (all metrics, generation included): {secs:.1f} s")
    if args.prdc_sanity:
        print("\nPRDC on N(0, I), 1000-D, 10k vs 10k, k=5   precision  recall  density  coverage")
        print(f"{'published (prdc README)':<42} {0.4772:>9.4f} {0.4705:>7.4f} {1.0555:>8.4f} {0.9735:>9.4f}")
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            real = rng.normal(size=(10_000, 1000)).astype(np.float32)
            fake = rng.normal(size=(10_000, 1000)).astype(np.float32)
            p, r = precision_recall(real, fake, k=5)
            d, c = density_coverage(real, fake, k=5)
            print(f"{'genzoo, seed ' + str(seed):<42} {p:>9.4f} {r:>7.4f} {d:>8.4f} {c:>9.4f}", flush=True)


if __name__ == "__main__":
    with exit_on_user_error():
        main()
