"""The PatchGAN discriminator (Isola et al. 2017, Sec. 3.2.2 and App. 6.1.2).

It classifies each N x N patch of the (condition, image) pair as real or fake and returns the grid
of patch logits; the loss averages over it. C64-C128-C256-C512 with 4x4 convolutions: stride 2 in
the first ``n_layers``, then stride 1, then a 1-channel output. n_layers = 3 gives the paper's
70 x 70 receptive field; for small images genzoo scales the patch with the image (``auto_layers``).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from genzoo.nets.dcgan import NORMS
from genzoo.nets.init import dcgan_init


def receptive_field(n_layers: int) -> int:
    """Side of the input patch that one output logit sees: walk the 4x4 layers back to the input."""
    r = 1
    for stride in reversed([2] * n_layers + [1, 1]):
        r = r * stride + (4 - stride)
    return r


def auto_layers(size: int) -> int:
    """The most layers whose patch is at most the paper's share of the image (70 of 256 px), and at least 1."""
    n = 1
    while n < 3 and receptive_field(n + 1) <= max(16, size * 70 / 256):
        n += 1
    return n


class PatchGAN(nn.Module):
    def __init__(self, in_ch: int, width: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        self.in_ch, self.n_layers = in_ch, n_layers
        layers: list[nn.Module] = [nn.Conv2d(in_ch, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for i in range(1, n_layers + 1):
            c_out = width * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(c, c_out, 4, stride, 1, bias=norm == "none"), NORMS[norm](c_out),
                       nn.LeakyReLU(0.2, True)]
            c = c_out
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.n_layers)

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        return self.net(pair)  # (B, 1, h, w) patch logits
