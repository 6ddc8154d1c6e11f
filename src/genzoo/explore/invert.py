"""Learned approximate inference (Goodfellow et al. 2014, Sec. 7): find z for a real image x.

- optimisation: Adam on z from several random starts; the loss is pixel MSE plus the MSE of
  the evaluation classifier's features (keeps the digit identity when pixels alone are ambiguous);
  the best start per image wins.
- encoder: a small conv net E trained on the generator's own samples, minimising |E(G(z)) - z|²
  plus the pixel error of G(E(G(z))); inversion is then one forward pass.
G runs in eval mode (batch-norm running statistics), so each image is inverted independently.
"""
from __future__ import annotations

from pathlib import Path

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
                    seed: int = 0, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (z, per-image pixel MSE) for images x in [-1, 1], shape (B, C, H, W)."""
    from tqdm import tqdm

    G.eval()
    bar = tqdm(total=restarts * steps, desc="invert", unit="step", disable=not progress, dynamic_ncols=True)
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
            bar.update(1)
        with torch.no_grad():
            err = (G(z) - x).pow(2).flatten(1).mean(1)
            better = err < best_err
            best_z[better], best_err[better] = z.detach()[better], err[better]
        bar.set_postfix(best_mse=f"{best_err.mean():.4f}")
    bar.close()
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


def invert_run(run, files: list[str] | None = None, test: int | None = None, encoder: bool = False,
               steps: int = 300, restarts: int = 4, encoder_steps: int = 1500, progress: bool = False):
    """Invert a GAN run's generator on image files or the first ``test`` test images.
    Returns (inputs uint8, reconstructions uint8, per-image pixel MSE in [-1, 1] units)."""
    from genzoo.data import to_float, to_uint8
    from genzoo.errors import GenzooError, at_least_1

    if bool(files) == bool(test):
        raise GenzooError("give image files or --test N")
    at_least_1(steps=steps, restarts=restarts, encoder_steps=encoder_steps if encoder else None)
    run.require("adversarial", "inversion")
    run.require("generates", "inversion")
    shape = run.data_shape
    if len(shape) != 3 or run.traits.encoder:
        raise GenzooError(f"{run.path}: inversion needs a GAN run on images (AE/VAE runs have an encoder: "
                          "`genzoo interpolate --images`)")
    x_u8 = load_images(files, shape) if files else run.dataset("test").x[:test]
    x = to_float(x_u8)
    algo = run.algo
    G = algo.sampling_net().cpu().float()
    torch.manual_seed(0)
    if encoder:
        z, err = invert_encoder(G, train_encoder(G, algo.z_dim, shape, steps=encoder_steps), x)
    else:
        clf = run.classifier and run.classifier[0]  # no classifier for this data: pixel loss only
        z, err = invert_optimize(G, x, algo.z_dim, clf, steps=steps, restarts=restarts, progress=progress)
    with torch.no_grad():
        recon = to_uint8(G(z))
    return x_u8, recon, err


def invert_to_file(run, files: list[str] | None = None, test: int | None = None, encoder: bool = False,
                   steps: int = 300, restarts: int = 4, encoder_steps: int = 1500, out: Path | None = None,
                   progress: bool = False) -> str:
    """``invert_run`` and a PNG of the inputs (top row) above their inversions (bottom row); returns the summary."""
    from genzoo import images

    x_u8, recon, err = invert_run(run, files, test, encoder, steps, restarts, encoder_steps, progress)
    out = Path(out or run.path / "inversion.png")
    images.save_grid(out, torch.cat([x_u8, recon]), nrow=len(x_u8))
    method = "encoder" if encoder else f"optimisation ({restarts} restarts x {steps} steps)"
    return (f"{method}: pixel MSE in [-1, 1] units, mean {err.mean():.4f} (min {err.min():.4f}, max {err.max():.4f}) "
            f"over {len(x_u8)} images; wrote {out}")
