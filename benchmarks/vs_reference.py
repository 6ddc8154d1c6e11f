"""genzoo's DCGAN step against the loop a user would write from the pytorch/examples DCGAN, side by side.

    python benchmarks/vs_reference.py [--rounds 2] [--steps 20] [--cases 28,64] [--threads 2]

The reference is written the way pytorch/examples' dcgan/main.py is: its own nn.Sequential nets (the same
layer plan as genzoo's dcgan nets), fp32, NCHW, a DataLoader with 2 workers and per-sample transforms
(uint8 array -> PIL image -> float tensor -> normalise), BCELoss after a Sigmoid, Adam 2e-4 β1 0.5, and one
G forward reused for the D and the G step. genzoo runs its own algo (`algo.train_step`, the call the loop
makes) on in-memory uint8 data indexed by batch, with the precision `auto` picks on this CPU, and in fp32.

Cases: 28x28x1 with the widely used MNIST DCGAN (G 100->256->128->1, D 1->128->256->1: genzoo `dcgan` with
width 128) and 64x64x3 with the pytorch/examples nets (ngf = ndf = 64: genzoo `dcgan` with width 64).
Rounds alternate (reference, genzoo, ...) so drifts of the machine hit both alike; the figures are images
per second of training (batch 64 per step) and the ratio of the medians. Also: sampling images per second.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from genzoo.algos.base import bf16_supported, resolve_precision
from genzoo.config_files import load_recipe
from genzoo.data import BatchSampler, Dataset
from genzoo.errors import exit_on_user_error
from genzoo.training.build import build_algo

NZ, BATCH = 100, 64


# -- the reference: written as a user would, from the pytorch/examples DCGAN ---------------------------------
def ref_nets(size: int, channels: int, width: int) -> tuple[nn.Module, nn.Module]:
    s0, n = {28: (7, 2), 64: (4, 4)}[size]
    ch = width * 2 ** (n - 1)
    g = [nn.ConvTranspose2d(NZ, ch, s0, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
    for _ in range(n - 1):
        g += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
        ch //= 2
    g += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
    d = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    ch = width
    for _ in range(n - 1):
        d += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
        ch *= 2
    d += [nn.Conv2d(ch, 1, s0, 1, 0, bias=False), nn.Sigmoid()]
    return nn.Sequential(*g), nn.Sequential(*d)


class PerSampleImages(torch.utils.data.Dataset):
    """uint8 images served one at a time through PIL, like torchvision's datasets with ToTensor + Normalize."""

    def __init__(self, x: np.ndarray):
        self.x = x  # (N, H, W, C) uint8

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        img = Image.fromarray(self.x[i].squeeze(-1) if self.x.shape[-1] == 1 else self.x[i])
        t = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)
        t = t[None] if t.dim() == 2 else t.permute(2, 0, 1)  # ToTensor: (C, H, W) in [0, 1]
        return (t - 0.5) / 0.5, 0                              # Normalize(0.5, 0.5)


def reference_setup(size: int, channels: int, width: int):
    torch.manual_seed(0)
    G, D = ref_nets(size, channels, width)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    return G, D, opt_d, opt_g, nn.BCELoss()


def reference_step(G, D, opt_d, opt_g, bce, real: torch.Tensor) -> None:
    D.zero_grad()
    out = D(real).view(-1)
    err_real = bce(out, torch.ones_like(out))
    err_real.backward()
    fake = G(torch.randn(real.shape[0], NZ, 1, 1))
    out = D(fake.detach()).view(-1)
    err_fake = bce(out, torch.zeros_like(out))
    err_fake.backward()
    opt_d.step()
    G.zero_grad()
    out = D(fake).view(-1)  # the same G forward, reused for the G step
    bce(out, torch.ones_like(out)).backward()
    opt_g.step()


def reference_round(size: int, channels: int, width: int, steps: int, x_u8: np.ndarray) -> float:
    nets = reference_setup(size, channels, width)
    loader = torch.utils.data.DataLoader(PerSampleImages(x_u8), batch_size=BATCH, shuffle=True, num_workers=2,
                                         drop_last=True, persistent_workers=True)
    done, t0, it = 0, None, iter(loader)
    while done < steps + 3:
        try:
            real, _ = next(it)
        except StopIteration:
            it = iter(loader)
            continue
        if done == 3:
            t0 = time.perf_counter()  # after warm-up
        reference_step(*nets, real)
        done += 1
    return steps * BATCH / (time.perf_counter() - t0)


# -- genzoo: its own algo on in-memory uint8 data -----------------------------------------------------------------
def genzoo_algo(size: int, channels: int, width: int, precision: str):
    cfg = load_recipe("dcgan")
    cfg.apply_overrides([f"model.g_width={width}", f"model.d_width={width}", f"train.precision={precision}",
                         "train.device=cpu", f"train.batch_size={BATCH}"])
    torch.manual_seed(0)
    return build_algo(cfg, (channels, size, size))


def genzoo_round(size: int, channels: int, width: int, precision: str, steps: int, x_u8: torch.Tensor,
                 compile: bool = False, timings: dict | None = None) -> float:
    """img/s of genzoo's step; ``compile``: G and D through torch.compile as train.compile does, its time
    (the warm-up steps) recorded in ``timings['compile_s']``."""
    algo = genzoo_algo(size, channels, width, precision)
    if compile:
        algo.G.compile()
        algo.D.compile()
    data, sampler = Dataset("bench", x_u8), BatchSampler(len(x_u8), BATCH, seed=0)
    nxt = lambda: data.batch(sampler.next())  # noqa: E731
    t = time.perf_counter()
    for _ in range(3):
        algo.train_step(nxt, 1)
    if timings is not None:  # the first round's: later rounds reuse what torch.compile cached in this process
        timings.setdefault("compile_s", time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(steps):
        algo.train_step(nxt, 1)
    return steps * BATCH / (time.perf_counter() - t)


def step_flops(size: int, channels: int, width: int, x_u8: torch.Tensor) -> tuple[float, float]:
    """Floating-point operations of one training step of genzoo and of the reference (matrix products and
    convolutions, forward and backward), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    algo = genzoo_algo(size, channels, width, "fp32")
    data, sampler = Dataset("bench", x_u8), BatchSampler(len(x_u8), BATCH, seed=0)
    with FlopCounterMode(display=False) as ours:
        algo.train_step(lambda: data.batch(sampler.next()), 1)
    with FlopCounterMode(display=False) as ref:
        reference_step(*reference_setup(size, channels, width), data.batch(torch.arange(BATCH))["x"])
    return float(ours.get_total_flops()), float(ref.get_total_flops())


def gemm_peak(dtype: torch.dtype, n: int = 2048, trials: int = 5) -> float:
    """GFLOP/s of a large square matrix product, the best of ``trials``: what this CPU's cores give."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    best = 0.0
    for _ in range(trials):
        t, reps = time.perf_counter(), 4
        for _ in range(reps):
            a @ b
        best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9)
    return best


def sampling(size: int, channels: int, width: int, precision: str, n: int = 10_000) -> float:
    """uint8 images per second from G, as `genzoo sample` and evaluation make them."""
    from genzoo.run import generate_uint8

    algo = genzoo_algo(size, channels, width, precision)
    z = algo.sample_z(n, torch.Generator().manual_seed(0))
    generate_uint8(algo, z[:1000])
    t = time.perf_counter()
    generate_uint8(algo, z)
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per round (after 3 warm-up steps)")
    ap.add_argument("--cases", default="28,64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="also time genzoo with train.compile (torch.compile)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    auto = resolve_precision("auto", torch.device("cpu"))
    peaks = {"fp32": gemm_peak(torch.float32)}
    if bf16_supported(torch.device("cpu")):
        peaks["bf16"] = gemm_peak(torch.bfloat16)
    print(f"torch {torch.__version__}, {args.threads} threads, native bf16: {bf16_supported(torch.device('cpu'))}; "
          f"genzoo precision=auto picks {auto}; batch {BATCH}, {args.steps} steps x {args.rounds} rounds")
    print("matrix-product peak of this CPU (2048^3): " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items()))
    for size in (int(c) for c in args.cases.split(",")):
        channels, width = (1, 128) if size == 28 else (3, 64)
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, 256, (BATCH * 40, channels, size, size), dtype=torch.uint8, generator=g)
        x_np = x.permute(0, 2, 3, 1).numpy().copy()
        ref_name = "reference (fp32, DataLoader)"
        figs = {ref_name: [], f"genzoo {auto}": [], "genzoo fp32": []}
        timings: dict = {}
        for _ in range(args.rounds):
            figs[ref_name].append(reference_round(size, channels, width, args.steps, x_np))
            figs[f"genzoo {auto}"].append(genzoo_round(size, channels, width, auto, args.steps, x))
            if auto != "fp32":
                figs["genzoo fp32"].append(genzoo_round(size, channels, width, "fp32", args.steps, x))
            if args.compile:
                figs.setdefault(f"genzoo {auto} + compile", []).append(
                    genzoo_round(size, channels, width, auto, args.steps, x, compile=True, timings=timings))
        ref = statistics.median(figs[ref_name])
        flops, ref_flops = (f / BATCH for f in step_flops(size, channels, width, x))
        print(f"\n{size}x{size}x{channels}, width {width} (GFLOP per trained image: genzoo {flops / 1e9:.2f}, "
              f"reference {ref_flops / 1e9:.2f}; the reference runs at {ref * ref_flops / 1e9:.0f} GFLOP/s, "
              f"{ref * ref_flops / 1e9 / peaks['fp32']:.0%} of fp32 peak):")
        for name, vals in figs.items():
            if vals:
                med = statistics.median(vals)
                prec = "bf16" if "bf16" in name else "fp32"
                share = f"   {med * flops / 1e9:5.0f} GFLOP/s, {med * flops / 1e9 / peaks[prec]:4.0%} of {prec} peak" \
                    if name != ref_name else ""
                print(f"  {name:<30} {' '.join(f'{v:7.1f}' for v in vals)} img/s   median {med:7.1f}   "
                      f"x{med / ref:.2f} of the reference{share}")
        best = max(peaks.values()) * 1e9 / flops
        print(f"  ceiling: genzoo's step at 100 % of this CPU's best peak would give {best:,.0f} img/s, "
              f"x{best / ref:.2f} of the reference")
        if timings:
            print(f"  (torch.compile: {timings['compile_s']:.0f} s in the first round's warm-up, not in the img/s above)")
        for p in sorted({auto, "fp32"}):
            print(f"  sampling ({p}): {sampling(size, channels, width, p):,.0f} img/s")
    # genzoo's own recipe: `dcgan` as it ships (width 64 at 28x28, batch 64)
    x = torch.randint(0, 256, (BATCH * 40, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    own = statistics.median(genzoo_round(28, 1, 64, auto, args.steps * 2, x) for _ in range(args.rounds))
    print(f"\nthe dcgan recipe as it ships (28x28, width 64, batch 64, {auto}): {own:,.0f} img/s training, "
          f"{sampling(28, 1, 64, auto):,.0f} img/s sampling")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
