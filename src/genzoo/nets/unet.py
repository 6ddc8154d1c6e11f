"""The pix2pix generator: a U-Net encoder-decoder with skip connections (Isola et al. 2017, Sec. 3.2.1).

Encoder Ck = Conv(4, stride 2) - BatchNorm - LeakyReLU(0.2), decoder ConvTranspose(4, stride 2) -
BatchNorm - ReLU, with the encoder's layer i concatenated to the decoder's layer n - i (App. 6.1.1).
Dropout 0.5 in the three innermost decoder layers is the generator's only noise: the paper found
that a z input was simply ignored. Fully convolutional: any size divisible by 2^depth works, and
``depth`` defaults to the most halvings the training size allows (5 for 32x32, down to 1x1 as in the
paper's 256x256 net), at most 8.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from genzoo.nets.init import dcgan_init


def auto_depth(size: int, cap: int = 8) -> int:
    d = 0
    while size % 2 == 0 and size > 1 and d < cap:
        size //= 2
        d += 1
    return d


class UNetGenerator(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, size: int, width: int = 64, depth: int | None = None,
                 dropout: float = 0.5):
        super().__init__()
        self.depth = depth or auto_depth(size)
        if self.depth < 1 or size % 2 ** self.depth:
            raise ValueError(f"a U-Net of depth {self.depth} needs sizes divisible by {2 ** self.depth}, got {size}")
        self.in_ch, self.out_ch, self.size = in_ch, out_ch, size
        chans = [width * min(2 ** i, 8) for i in range(self.depth)]            # C64-C128-C256-C512-C512...
        self.down = nn.ModuleList()
        for i, c in enumerate(chans):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(in_ch if i == 0 else chans[i - 1], c, 4, 2, 1, bias=i in (0, self.depth - 1)))
            if 0 < i < self.depth - 1:  # no norm on the first layer (App. 6.1.1) nor on the 1x1 bottleneck
                layers.append(nn.BatchNorm2d(c))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in reversed(range(self.depth)):  # up[j] produces the resolution of down[i - 1]'s output
            c_in = chans[i] if i == self.depth - 1 else chans[i] * 2              # skip concatenation doubles it
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(c_in, out_ch, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ReLU(True), nn.ConvTranspose2d(c_in, chans[i - 1], 4, 2, 1, bias=False),
                      nn.BatchNorm2d(chans[i - 1])]
            if self.depth - 1 - i < 3 and dropout:  # the three innermost decoder layers
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))
        dcgan_init(self)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        if a.shape[-1] % 2 ** self.depth or a.shape[-2] % 2 ** self.depth:
            raise ValueError(f"input size {tuple(a.shape[-2:])} is not divisible by {2 ** self.depth}")
        skips, h = [], a
        for layer in self.down:
            h = layer(h)
            skips.append(h)
        h = self.up[0](skips[-1])
        for j, layer in enumerate(self.up[1:], start=2):
            h = layer(torch.cat([h, skips[-j]], 1))
        return h  # (B, out_ch, H, W) in [-1, 1]


def set_dropout(net: nn.Module, on: bool) -> None:
    """Dropout active (pix2pix's noise, for several outputs per input) while the rest stays in eval mode."""
    for m in net.modules():
        if isinstance(m, nn.Dropout):
            m.train(on)
