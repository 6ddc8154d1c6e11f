"""Learned approximate inference (SEEDS 000): find z for a real image x.

- optimisation: Adam on z from several random starts; the loss is pixel MSE plus the MSE of
  the evaluation classifier's features (keeps the digit identity when pixels alone are ambiguous);
  the best start per image wins.
- encoder: a small conv net E trained on the generator's own samples, minimising |E(G(z)) - z|²
  plus the pixel error of G(E(G(z))); inversion is then one forward pass.
G runs in eval mode (batch-norm running statistics), so each image is inverted independently.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _features(net: nn.Module | None, x: torch.Tensor) -> torch.Tensor | None:
    if net is None:
        return None
    c, s, _ = net.in_shape
    if x.shape[1] != c:
        x = x.mean(1, keepdim=True) if c == 1 else x.expand(-1, c, -1, -1)
    if x.shape[-1] != s:
        x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False)
    return net.features(x)


def invert_optimize(G: nn.Module, x: torch.Tensor, z_dim: int, classifier: nn.Module | None = None,
                    steps: int = 300, restarts: int = 4, lr: float = 0.05, feat_weight: float = 0.1,
                    seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (z, per-image pixel MSE) for images x in [-1, 1], shape (B, C, H, W)."""
    G.eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        fx = _features(classifier, x)
    best_z, best_err = torch.zeros(len(x), z_dim), torch.full((len(x),), float("inf"))
    for _ in range(restarts):
        z = torch.randn(len(x), z_dim, generator=gen).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            y = G(z)
            loss = (y - x).pow(2).flatten(1).mean(1)  # (B,)
            if fx is not None:
                loss = loss + feat_weight * (_features(classifier, y) - fx).pow(2).mean(1)
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
        with torch.no_grad():
            err = (G(z) - x).pow(2).flatten(1).mean(1)
            better = err < best_err
            best_z[better], best_err[better] = z.detach()[better], err[better]
    return best_z, best_err


class Encoder(nn.Module):
    """x (B, C, H, W) in [-1, 1] -> z (B, z_dim)."""

    def __init__(self, channels: int, size: int, z_dim: int, width: int = 32):
        super().__init__()
        self.in_shape = (channels, size, size)
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, True),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(2 * width * 16, 256), nn.LeakyReLU(0.2, True),
            nn.Linear(256, z_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert tuple(x.shape[1:]) == self.in_shape, (x.shape, self.in_shape)
        return self.body(x)


def train_encoder(G: nn.Module, z_dim: int, shape: tuple[int, int, int], steps: int = 1500, batch: int = 128,
                  seed: int = 0) -> Encoder:
    torch.manual_seed(seed)
    G.eval()
    E = Encoder(shape[0], shape[1], z_dim)
    opt = torch.optim.Adam(E.parameters(), lr=1e-3)
    for _ in range(steps):
        with torch.no_grad():
            z = torch.randn(batch, z_dim)
            x = G(z)
        z_hat = E(x)
        loss = (z_hat - z).pow(2).mean() + (G(z_hat) - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return E.eval()


@torch.no_grad()
def invert_encoder(G: nn.Module, E: Encoder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    G.eval()
    z = E(x)
    return z, (G(z) - x).pow(2).flatten(1).mean(1)


def load_images(paths: list[str], shape: tuple[int, int, int]) -> torch.Tensor:
    """Image files -> uint8 (N, C, H, W) at the run's shape. Other sizes are resized (bicubic) and the
    channel count converted, as documented in `genzoo invert --help`."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from genzoo.errors import GenzooError

    c, h, w = shape
    out = []
    for p in paths:
        try:
            with Image.open(p) as im:
                im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BICUBIC)
                a = np.asarray(im, dtype=np.uint8)
        except (OSError, UnidentifiedImageError) as e:
            raise GenzooError(f"{p}: cannot read image ({e.__class__.__name__})") from None
        out.append(torch.from_numpy(np.array(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))))  # writable copy
    return torch.stack(out)
