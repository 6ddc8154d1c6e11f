"""AdvGAN's perturbation generator (Xiao et al. 2018, Sec. 3 and appendix: an encoder, residual blocks, a decoder).

Maps an image (B, C, H, W) to raw perturbation logits of the same shape; the algo bounds them with ε·tanh."""
from __future__ import annotations

import torch
import torch.nn as nn


class _Res(nn.Module):
    def __init__(self, w: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(w, w, 3, padding=1, bias=False), nn.InstanceNorm2d(w, affine=True),
                                  nn.ReLU(True), nn.Conv2d(w, w, 3, padding=1, bias=False),
                                  nn.InstanceNorm2d(w, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PerturbationG(nn.Module):
    def __init__(self, channels: int = 1, width: int = 16, blocks: int = 2):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1, bias=False), nn.InstanceNorm2d(w, affine=True), nn.ReLU(True),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.InstanceNorm2d(2 * w, affine=True), nn.ReLU(True),
            *[_Res(2 * w) for _ in range(blocks)],
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.InstanceNorm2d(w, affine=True), nn.ReLU(True),
            nn.Conv2d(w, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)  # (B, C, H, W), H and W even
        assert out.shape == x.shape, (out.shape, x.shape)
        return out
