"""Metrics of paired translation: L1, PSNR, SSIM against the target, and colourfulness.

Images are float tensors in [0, 1], (N, C, H, W); every function returns one value per image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).abs().flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """10 log10(1 / MSE) for a peak value of 1, in dB."""
    mse = (x - y).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / (mse + eps))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-t.pow(2) / (2 * sigma ** 2))
    return g / g.sum()


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004): the mean over valid 11x11 Gaussian windows
    (sigma 1.5) and channels of l(x, y) c(x, y) s(x, y), with C1 = (0.01)^2, C2 = (0.03)^2 for range 1.
    Windows larger than the image shrink to its size."""
    x, y = x.double(), y.double()
    C = x.shape[1]
    size = min(window, x.shape[-1], x.shape[-2])
    g = _gaussian_window(size, sigma)
    w = (g[:, None] * g[None, :]).expand(C, 1, size, size).contiguous()

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=C)
    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1).float()


def colourfulness(x: torch.Tensor) -> torch.Tensor:
    """Hasler & Süsstrunk 2003, Eq. 3 on 0..255 RGB: sigma_rgyb + 0.3 mu_rgyb with rg = R - G,
    yb = (R + G) / 2 - B. 0 for grey images; their scale puts ~33 at 'moderately colourful'."""
    if x.shape[1] != 3:
        return torch.zeros(x.shape[0])
    r, g, b = (x * 255).double().unbind(1)
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    sigma = (rg.var(1, unbiased=False) + yb.var(1, unbiased=False)).sqrt()
    mu = (rg.mean(1).pow(2) + yb.mean(1).pow(2)).sqrt()
    return (sigma + 0.3 * mu).float()
