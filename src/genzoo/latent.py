"""Latent-space tools: interpolation between points of z.

Slerp is the default for Gaussian z: in d dimensions samples concentrate near the sphere of
radius sqrt(d), and the straight line between two of them passes through lower norms
(about sqrt(d/2) at the midpoint of two orthogonal points), where G has seen few inputs
(White 2016, arXiv:1609.04468). Slerp keeps the norm on the way.
"""
from __future__ import annotations

import torch


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """a, b: (D,); t: (T,) -> (T, D)."""
    return a[None] + (b - a)[None] * t[:, None]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of the directions, with the norm interpolated linearly. (T, D)"""
    na, nb = a.norm(), b.norm()
    ua, ub = a / na, b / nb
    omega = torch.arccos((ua * ub).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if omega.abs() < 1e-4:  # (nearly) parallel: slerp degenerates to lerp
        return lerp(a, b, t)
    so = torch.sin(omega)
    dirs = (torch.sin((1 - t) * omega)[:, None] * ua + torch.sin(t * omega)[:, None] * ub) / so  # (T, D) unit
    return dirs * (na + (nb - na) * t)[:, None]


INTERPOLATORS = {"lerp": lerp, "slerp": slerp}


def seeded_latents(seeds: list[int], z_dim: int) -> torch.Tensor:
    """One z per seed, drawn exactly as `genzoo sample --seed S --n 1` draws it. (S, z_dim)"""
    return torch.stack([torch.randn(1, z_dim, generator=torch.Generator().manual_seed(s))[0] for s in seeds])


def path(points: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """Rows of ``steps`` latents from each point to the next. (len(points) - 1, steps, D)"""
    t = torch.linspace(0, 1, steps)
    fn = INTERPOLATORS[method]
    return torch.stack([fn(points[i], points[i + 1], t) for i in range(len(points) - 1)])
