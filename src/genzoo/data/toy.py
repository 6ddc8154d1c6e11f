"""2-D toy distributions of the mode-collapse literature.

ring8:  8 Gaussians evenly on a circle of radius 1, std 0.01.
grid25: 25 Gaussians at {-4,-2,0,2,4}^2, std 0.05 (Lin et al. 2018, PacGAN, Sec. 5).
spiral: a noisy two-turn Archimedean spiral (no discrete modes).
"""
from __future__ import annotations

import math

import torch

TOY_NAMES = ("ring8", "grid25", "spiral")


def mode_centers(name: str) -> torch.Tensor | None:
    if name == "ring8":
        a = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([a.cos(), a.sin()], 1).float()  # (8, 2)
    if name == "grid25":
        v = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(v, v)  # (25, 2)
    return None


def mode_std(name: str) -> float:
    return {"ring8": 0.01, "grid25": 0.05, "spiral": 0.02}[name]


def sample_toy(name: str, n: int, generator: torch.Generator) -> torch.Tensor:
    """n points (n, 2) from the named mixture."""
    std = mode_std(name)
    if name == "spiral":
        t = torch.rand(n, generator=generator) * (4 * math.pi) + 0.5   # two turns
        r = t / (4 * math.pi + 0.5) * 2.0
        pts = torch.stack([r * t.cos(), r * t.sin()], 1)
    else:
        centers = mode_centers(name)
        k = torch.randint(len(centers), (n,), generator=generator)
        pts = centers[k]
    return pts + std * torch.randn(n, 2, generator=generator)
