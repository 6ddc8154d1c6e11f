"""Random affine augmentation of image batches: one copy, used by the evaluation classifiers' training and by
the GAN's consistency regularisation (Zhang et al. 2020)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(x: torch.Tensor, *, shift: int = 0, rotate: float = 0.0, scale: float = 0.0, flip: bool = False,
                  generator: torch.Generator | None = None, shard: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """Each image of x (B, C, H, W) moved by a whole-pixel translation of up to ``shift`` px per axis, rotated
    by up to ``rotate`` degrees and zoomed by a factor in [1 - scale, 1 + scale], all uniform per sample, and
    mirrored left-right with probability 1/2 when ``flip``. Pixels from outside repeat the border, which is
    background for digits. The random numbers come from ``generator`` (the global CPU generator if None).
    ``shard=(rank, world)``: x is rank's share of a global batch of world * B images; the numbers are drawn for
    the global batch and sliced, as one process would draw them."""
    rank, world = shard
    n = x.shape[0]
    B = n * world
    t = torch.randint(-shift, shift + 1, (B, 2), generator=generator).float() * 2 / x.shape[-1]
    mirror = torch.where(torch.rand(B, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(B)
    angle = (torch.rand(B, generator=generator) * 2 - 1) * math.radians(rotate) if rotate else torch.zeros(B)
    zoom = 1 + (torch.rand(B, generator=generator) * 2 - 1) * scale if scale else torch.ones(B)
    cos, sin = angle.cos() / zoom, angle.sin() / zoom  # theta maps output to input coordinates: 1/zoom enlarges
    theta = torch.stack([torch.stack([cos * mirror, -sin, t[:, 0]], 1),
                         torch.stack([sin * mirror, cos, t[:, 1]], 1)], 1)[rank * n: (rank + 1) * n]
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)
