"""Throughput of data-parallel training: images per second for 1 and 2 processes (CPU, gloo), and on a machine with
GPUs for 1..N GPUs with dcgan at 64x64, batch 128 per GPU, in fp32, bf16 and fp16.

    python benchmarks/scaling.py                 # CPU: 1 and 2 processes, the same global batch
    python benchmarks/scaling.py --gpu           # GPUs: 1..N, 128 images per GPU (needs CIFAR-10 in $GENZOO_DATA)

Each configuration trains a fresh run with `genzoo train --nproc N` and reads the images/s the loop logs
(``img_per_s``, global images per second between logged steps), skipping the first logged interval (warm-up).
On a CPU the processes share the same cores, so a second process adds no compute: the number to read is the
overhead, 1 - img/s(2) / img/s(1).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run(nproc: int, args: list[str], out: Path) -> float:
    cmd = [sys.executable, "-m", "genzoo", "train", *args, "--quiet", "--out", str(out), "--nproc", str(nproc),
           "--set", "train.report=false", "--set", "watch.enabled=false", "--set", "train.sample_every=100000",
           "--set", "train.ckpt_every=100000"]
    env = dict(os.environ, GENZOO_PRECISION=os.environ.get("GENZOO_PRECISION", "fp32"))
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    rates = [json.loads(ln).get("img_per_s") for ln in (out / "log.jsonl").read_text().splitlines()]
    rates = [r for r in rates if r][1:]  # the first interval includes start-up
    return sum(rates) / len(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--steps", type=int, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not a.gpu:
            steps = a.steps or 60
            args = ["dcgan", "--dataset", "embedded", "--batch-size", "64", "--steps", str(steps), "--device", "cpu",
                    "--set", "train.log_every=10"]
            print(f"dcgan 28x28, embedded MNIST, global batch 64, {steps} steps, CPU ({os.cpu_count()} cores), gloo")
            base = None
            for n in (1, 2):
                r = run(n, args, Path(tmp) / f"cpu{n}")
                base = base or r
                print(f"  {n} process(es): {r:8.1f} img/s   overhead vs 1 process: {100 * (1 - r / base):5.1f} %")
            return
        import torch
        steps = a.steps or 200
        for precision in ("fp32", "bf16", "fp16"):
            for n in range(1, torch.cuda.device_count() + 1):
                args = ["dcgan", "--dataset", "cifar10", "--set", "data.image_size=64", "--batch-size", str(128 * n),
                        "--steps", str(steps), "--device", "cuda", "--set", f"train.precision={precision}",
                        "--set", "train.log_every=20"]
                r = run(n, args, Path(tmp) / f"gpu{n}-{precision}")
                print(f"  dcgan 64x64 {precision} {n} GPU(s), 128/GPU: {r:10.1f} img/s")


if __name__ == "__main__":
    main()
