"""Would training several seeds as one batched model make the PacGAN 2-D protocol cheaper on a CPU?

The protocol's step (G: 4 x 400 BN MLP, D: 3 maxout layers of 200 x 5, batch 100 x pack, Adam) is written here
once with every weight stacked over S seeds (one batched matmul per layer, batch norm per seed, one Adam over the
stacked tensors, which is S independent Adams because Adam is elementwise). S = 1 is one run; S = 10 is ten
runs in one process. If the step were Python- or dispatch-bound, ten seeds would cost far less than ten steps.
Prints the time per step and per seed-step, side by side in one process.

    python benchmarks/pacgan_batched_seeds.py --seeds 1,10 --threads 1
"""
import time

import torch
import torch.nn.functional as F

from genzoo.cli import Parser
from genzoo.cli.common import int_list
from genzoo.errors import at_least_1, exit_on_user_error

p = Parser(description="Times the PacGAN 2-D protocol's step with S seeds stacked into one batched model, per "
           "step and per seed-step, side by side in one process.")
p.add_argument("--seeds", default="1,10", help="comma list of seed counts S to time (default 1,10)")
p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
p.add_argument("--pack", type=int, default=1, help="samples D judges at once (default 1)")
p.add_argument("--steps", type=int, default=200, help="timed steps per row, after 20 warm-up steps (default 200)")
a = p.parse_args()


def stacked_step(S: int, pack: int):
    """One training step of S stacked PacGAN-protocol GANs (the nets' shapes and optimiser of the protocol)."""
    B = 100 * pack

    def w(*shape, std=0.02):
        return torch.nn.Parameter(torch.randn(S, *shape) * std)

    g_w = [w(2, 400), w(400, 400), w(400, 400), w(400, 400)]
    g_gamma = [torch.nn.Parameter(torch.ones(S, 1, 400)) for _ in g_w]
    g_beta = [torch.nn.Parameter(torch.zeros(S, 1, 400)) for _ in g_w]
    g_out, g_out_b = w(400, 2), torch.nn.Parameter(torch.zeros(S, 1, 2))
    d_w = [w(2 * pack, 1000), w(200, 1000), w(200, 1000)]
    d_b = [torch.nn.Parameter(torch.zeros(S, 1, 1000)) for _ in d_w]
    d_head, d_head_b = w(200, 1), torch.nn.Parameter(torch.zeros(S, 1, 1))

    def G(z):  # (S, B, 2) -> (S, B, 2)
        h = z
        for wt, gamma, beta in zip(g_w, g_gamma, g_beta):
            h = torch.bmm(h, wt)
            mean, var = h.mean(1, keepdim=True), h.var(1, unbiased=False, keepdim=True)  # batch norm per seed
            h = torch.relu((h - mean) * torch.rsqrt(var + 1e-5) * gamma + beta)
        return torch.baddbmm(g_out_b, h, g_out)

    def D(x):  # (S, B, 2) -> (S, B / pack, 1): pack consecutive points of one seed
        h = x.reshape(S, -1, 2 * pack)
        for wt, b in zip(d_w, d_b):
            h = torch.baddbmm(b, h, wt).view(S, h.shape[1], 200, 5).max(-1).values
        return torch.baddbmm(d_head_b, h, d_head)

    opt_g = torch.optim.Adam(g_w + g_gamma + g_beta + [g_out, g_out_b], 1e-4, betas=(0.8, 0.999))
    opt_d = torch.optim.Adam(d_w + d_b + [d_head, d_head_b], 1e-4, betas=(0.8, 0.999))
    data = torch.randn(S, 100_000, 2)

    def step():
        idx = torch.randint(0, 100_000, (S, B))
        real = torch.gather(data, 1, idx[..., None].expand(S, B, 2))
        fake = G(torch.randn(S, B, 2))
        loss_d = (F.softplus(-D(real)).mean((1, 2)) + F.softplus(D(fake.detach())).mean((1, 2))).sum()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-D(fake)).mean((1, 2)).sum()  # sums of per-seed means: each seed its own gradient
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    return step


def main():
    counts = int_list(a.seeds, "--seeds")
    at_least_1(seeds=min(counts), threads=a.threads, pack=a.pack, steps=a.steps)
    torch.set_num_threads(a.threads)
    print(f"PacGAN 2-D protocol step, pack {a.pack}, {a.threads} thread(s), {a.steps} timed steps after 20 warm-up")
    print("| seeds S | ms per step | ms per seed-step |\n|---|---|---|")
    base = None
    for S in counts:
        step = stacked_step(S, a.pack)
        for _ in range(20):
            step()
        t = time.perf_counter()
        for _ in range(a.steps):
            step()
        ms = (time.perf_counter() - t) / a.steps * 1000
        base = base or ms / S
        print(f"| {S} | {ms:.1f} | {ms / S:.2f} (x{base / (ms / S):.2f} vs the first row) |", flush=True)


with exit_on_user_error():
    main()
