"""Training and sampling throughput of the dcgan recipe (images per second).

    python benchmarks/throughput.py [--steps 30] [--batch-size 64]

Trains on random uint8 images of the right shape (the data source does not matter for speed),
in fp32 and bf16 at 28x28 (1 channel) and 64x64 (3 channels), and times sampling. All figures
come from one process, so their ratios are comparable even on a noisy machine.
"""
from __future__ import annotations

import argparse
import time

import torch

from genzoo.algos.base import bf16_supported
from genzoo.errors import exit_on_user_error
from genzoo.training.build import build_algo
from genzoo.config_files import load_recipe
from genzoo.data import Dataset, to_float


def bench_train(size: int, channels: int, precision: str, steps: int, batch: int) -> float:
    cfg = load_recipe("dcgan")
    cfg.set("train.precision", precision)
    cfg.set("train.device", "cpu")
    torch.manual_seed(0)
    algo = build_algo(cfg, (channels, size, size))
    data = Dataset("bench", torch.randint(0, 256, (batch * 4, channels, size, size), dtype=torch.uint8))
    idx = torch.arange(batch)
    for _ in range(3):  # warm-up
        algo.d_step(data.batch(idx)), algo.g_step(data.batch(idx))
    t = time.perf_counter()
    for _ in range(steps):
        algo.d_step(data.batch(idx))
        algo.g_step(data.batch(idx))
    return steps * batch / (time.perf_counter() - t)


def bench_sample(size: int, channels: int, precision: str, n: int = 2000) -> float:
    cfg = load_recipe("dcgan")
    cfg.set("train.precision", precision)
    cfg.set("train.device", "cpu")
    algo = build_algo(cfg, (channels, size, size))
    algo.generate(algo.sample_z(100))
    t = time.perf_counter()
    for _ in range(n // 500):
        algo.generate(algo.sample_z(500))
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    precisions = ["fp32"] + (["bf16"] if bf16_supported(torch.device("cpu")) else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, native bf16: {'bf16' in precisions}")
    print(f"{'shape':<10} {'precision':<9} {'train img/s':>12} {'sample img/s':>13}")
    for size, ch in ((28, 1), (64, 3)):
        base = None
        for prec in precisions:
            tr = bench_train(size, ch, prec, args.steps if size == 28 else max(5, args.steps // 3), args.batch_size)
            sa = bench_sample(size, ch, prec)
            base = base or tr
            print(f"{ch}x{size}x{size:<4} {prec:<9} {tr:>12.0f} {sa:>13.0f}   (train x{tr / base:.2f} vs fp32)")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
