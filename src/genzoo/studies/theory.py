"""The GAN theory lab (Goodfellow et al. 2014, Sec. 4): small numerical checks of the theorems, each with a figure.

optimal-d    for fixed p_data and p_g, the trained D matches D*(x) = p_data / (p_data + p_g)
             (Goodfellow et al. 2014, Prop. 1)
equilibrium  with p_g = p_data, D -> 1/2 and V(D, G) -> -log 4 (Theorem 1)
saturation   the generator gradients of the minimax and non-saturating losses as functions of
             D(G(z)), by autograd against the closed forms
nash         gradient descent-ascent on the bilinear game min_x max_y xy: simultaneous updates spiral
             out, alternating updates stay on a bounded orbit (Mescheder et al. 2017/2018)
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from genzoo.io import atomic_write_bytes
from genzoo.nets import MLPDiscriminator


def _mixture_pdf(x: torch.Tensor, means: list[float], stds: list[float], weights: list[float]) -> torch.Tensor:
    out = torch.zeros_like(x)
    for m, s, w in zip(means, stds, weights):
        out += w * torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    return out


P_DATA = ([-1.5, 1.0], [0.4, 0.6], [0.4, 0.6])
P_G = ([-0.5, 2.0], [0.7, 0.5], [0.7, 0.3])


def _train_d(p_data: Callable, p_g: Callable, steps: int, seed: int = 0) -> tuple[MLPDiscriminator, torch.Tensor]:
    """Minimise the exact D loss -E_pdata log D - E_pg log(1 - D) on a fine grid (a quadrature of the
    expectations), so what is measured is D's optimum, not sampling noise."""
    torch.manual_seed(seed)
    x = torch.linspace(-5, 5, 801)[:, None]
    w_data, w_g = p_data(x[:, 0]), p_g(x[:, 0])
    w_data, w_g = w_data / w_data.sum(), w_g / w_g.sum()
    D = MLPDiscriminator((1,), hidden=64, layers=3)
    opt = torch.optim.Adam(D.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        logit = D(x)
        loss = (w_data * F.softplus(-logit)).sum() + (w_g * F.softplus(logit)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return D, x


def optimal_d(out: Path, steps: int = 3000) -> dict:
    pd = lambda x: _mixture_pdf(x, *P_DATA)  # noqa: E731
    pg = lambda x: _mixture_pdf(x, *P_G)  # noqa: E731
    D, x = _train_d(pd, pg, steps)
    with torch.no_grad():
        d = torch.sigmoid(D(x))
    xs = x[:, 0]
    dstar = pd(xs) / (pd(xs) + pg(xs))
    support = (pd(xs) > 0.01) & (pg(xs) > 0.01)  # where both densities are non-negligible
    err = (d - dstar).abs()[support].max().item()
    fig, (a1, a2) = _fig(2)
    a1.plot(xs, pd(xs), label="p_data")
    a1.plot(xs, pg(xs), label="p_g")
    a1.legend(fontsize=8)
    a1.set_title("densities", fontsize=9)
    a2.plot(xs, dstar, "k--", label="D*(x) = p_data / (p_data + p_g)")
    a2.plot(xs, d, label="trained D(x)")
    a2.fill_between(xs, 0, 1, where=support.numpy(), alpha=0.08, color="g", label="both > 0.01")
    a2.set_ylim(-0.02, 1.02)
    a2.legend(fontsize=7)
    a2.set_title(f"max |D - D*| on the common support = {err:.4f}", fontsize=9)
    _save(fig, out)
    return {"max_abs_error": err, "steps": steps}


def equilibrium(out: Path, steps: int = 1500) -> dict:
    pd = lambda x: _mixture_pdf(x, *P_DATA)  # noqa: E731
    D, x = _train_d(pd, pd, steps)
    with torch.no_grad():
        logit = D(x)
        d = torch.sigmoid(logit)
    w = pd(x[:, 0])
    w = w / w.sum()
    v = ((w * F.logsigmoid(logit)).sum() + (w * F.logsigmoid(-logit)).sum()).item()  # V(D, G) with p_g = p_data
    support = pd(x[:, 0]) > 0.01
    dev = (d - 0.5).abs()[support].max().item()
    fig, (a1,) = _fig(1)
    a1.plot(x[:, 0], d, label="trained D(x)")
    a1.axhline(0.5, color="k", ls="--", label="1/2")
    a1.set_ylim(0, 1)
    a1.legend(fontsize=8)
    a1.set_title(f"p_g = p_data: V(D, G) = {v:.4f}  (-log 4 = {-math.log(4):.4f})", fontsize=9)
    _save(fig, out)
    return {"V": v, "minus_log_4": -math.log(4), "max_abs_D_minus_half": dev}


def saturation(out: Path) -> dict:
    """Gradients with respect to D's logit f at D(G(z)) = sigma(f)."""
    dg = torch.linspace(0.001, 0.999, 999)
    f = torch.log(dg / (1 - dg)).requires_grad_(True)
    (g_mm,) = torch.autograd.grad(-F.softplus(f).sum(), f)      # d/df log(1 - sigma(f))
    (g_ns,) = torch.autograd.grad(F.softplus(-f).sum(), f)      # d/df -log sigma(f)
    closed_mm, closed_ns = -dg, -(1 - dg)                       # -sigma(f) and -(1 - sigma(f))
    err = max((g_mm - closed_mm).abs().max().item(), (g_ns - closed_ns).abs().max().item())
    fig, (a1,) = _fig(1)
    a1.plot(dg, g_mm.abs(), label="minimax: |d/df log(1 - D(G(z)))| = D")
    a1.plot(dg, g_ns.abs(), label="non-saturating: |d/df -log D(G(z))| = 1 - D")
    a1.plot(dg, closed_mm.abs(), "k:", lw=1)
    a1.plot(dg, closed_ns.abs(), "k:", lw=1, label="closed forms")
    a1.set_xlabel("D(G(z))")
    a1.set_ylabel("|gradient| w.r.t. D's logit")
    a1.legend(fontsize=7)
    a1.set_title("early training (D(G(z)) near 0): the minimax gradient vanishes", fontsize=9)
    _save(fig, out)
    at = 0.01
    return {"max_abs_error_vs_closed_form": err, "grad_ratio_minimax_over_ns_at_D=0.01": at / (1 - at)}


def nash(out: Path, lr: float = 0.1, steps: int = 200, n_critic: int = 1) -> dict:
    """min_x max_y x*y from (1, 1): equilibrium at (0, 0)."""
    def run(simultaneous: bool) -> np.ndarray:
        x, y = 1.0, 1.0
        pts = [(x, y)]
        for _ in range(steps):
            if simultaneous:
                x, y = x - lr * y, y + lr * x
            else:
                for _ in range(n_critic):
                    y = y + lr * x          # the "discriminator" ascends first
                x = x - lr * y              # then G descends against the updated D
            pts.append((x, y))
        return np.array(pts)

    sim, alt = run(True), run(False)
    r_sim, r_alt = np.linalg.norm(sim, axis=1), np.linalg.norm(alt, axis=1)
    fig, (a1,) = _fig(1)
    a1.plot(sim[:, 0], sim[:, 1], label=f"simultaneous: |(x,y)| {r_sim[0]:.2f} -> {r_sim[-1]:.2f}")
    a1.plot(alt[:, 0], alt[:, 1], label=f"alternating: |(x,y)| stays in [{r_alt.min():.2f}, {r_alt.max():.2f}]")
    a1.plot([0], [0], "k*", ms=10, label="Nash equilibrium")
    a1.set_aspect("equal")
    a1.legend(fontsize=7)
    a1.set_title(f"min_x max_y xy, lr={lr}, {steps} steps", fontsize=9)
    _save(fig, out)
    return {"simultaneous_final_radius": float(r_sim[-1]), "alternating_max_radius": float(r_alt.max()),
            "alternating_min_radius": float(r_alt.min()), "start_radius": float(r_sim[0])}


EXPERIMENTS = {"optimal-d": optimal_d, "equilibrium": equilibrium, "saturation": saturation, "nash": nash}


def _fig(n: int):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 3.6), dpi=90)
    return fig, (axes if n > 1 else [axes])


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
