"""DCGAN generator and discriminator (Radford et al. 2016, arXiv:1511.06434).

The DCGAN rules (Radford et al. 2016, arXiv:1511.06434): strided convolutions in D, fractionally strided (transposed)
convolutions in G, batch norm in both (not on G's output or D's input), no fully connected
hidden layers, ReLU in G with tanh at the output, LeakyReLU(0.2) in D.

Sizes: 28 (7 -> 14 -> 28), 32 (4 -> 8 -> 16 -> 32) and 64 (4 -> ... -> 64), with 4 x 4 kernels as in
pytorch/examples. ``layers`` and ``kernel`` change the depth and the kernel: layers=4, kernel=5 at 28 x 28 are
the nets of carpedm20's DCGAN-tensorflow (2 -> 4 -> 7 -> 14 -> 28, 5 x 5 kernels, 512 channels at the bottom with
width 64), which PacGAN's and VEEGAN's Stacked MNIST experiments use. Each layer halves the size, rounding up.

``fc_hidden`` > 0 breaks the "no fully connected hidden layers" rule on purpose: G then starts with
FC(fc_hidden)-BN-ReLU-FC(ch * s0 * s0)-BN-ReLU and D ends with FC(fc_hidden)-norm-LeakyReLU before its
logit. With fc_hidden = 1024 and width 64 at 28 x 28 these are exactly InfoGAN's MNIST nets (Chen et
al. 2016, App. C.1, Table 1).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from genzoo.nets.init import dcgan_init

_BASE = {28: 2, 32: 3, 64: 4}  # image size -> its default number of stride-2 layers (28: 7 -> 14 -> 28)


def _plan(size: int, layers: int = 0) -> list[int]:
    """The spatial sizes from G's first map to the image, e.g. [7, 14, 28]; D runs through them backwards."""
    if size not in _BASE:
        raise ValueError(f"DCGAN nets support image sizes {sorted(_BASE)}, got {size}")
    sizes = [size]
    for _ in range(layers or _BASE[size]):
        sizes.insert(0, -(-sizes[0] // 2))  # ceil(n / 2): 7 -> 4, as TensorFlow's 'SAME' padding does
    return sizes


def _up(c_in: int, c_out: int, n: int, t: int, k: int, bias: bool) -> nn.ConvTranspose2d:
    """A stride-2 transposed convolution with a k x k kernel from n x n to t x t (t = 2n or 2n - 1)."""
    p = -(-(2 * (n - 1) + k - t) // 2)
    return nn.ConvTranspose2d(c_in, c_out, k, 2, p, output_padding=t - (2 * (n - 1) - 2 * p + k), bias=bias)


def _down(c_in: int, c_out: int, n: int, t: int, k: int, bias: bool) -> nn.Conv2d:
    """A stride-2 convolution with a k x k kernel from n x n to t = ceil(n / 2)."""
    return nn.Conv2d(c_in, c_out, k, 2, -(-(2 * (t - 1) - n + k) // 2), bias=bias)


class ProjectZ(nn.ConvTranspose2d):
    """G's first layer: a transposed convolution with an s0 x s0 kernel on a 1 x 1 input, which is z times a
    (Z, ch * s0 * s0) matrix reshaped to (ch, s0, s0). It is computed as that one matrix product, which
    oneDNN runs 2-4x faster than the transposed convolution (a kernel the size of the output is its slow
    case); weights, initialisation and checkpoints stay the ConvTranspose2d's."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, Z) -> (B, ch, s0, s0)
        w = self.weight  # (Z, ch, s0, s0)
        if w.is_contiguous():
            y = (z @ w.flatten(1)).view(z.shape[0], *w.shape[1:])
        else:  # channels_last weights, (Z, s0, s0, ch) in memory: the output comes out channels_last too
            y = (z @ w.permute(0, 2, 3, 1).flatten(1)).view(z.shape[0], *w.shape[2:], w.shape[1]).permute(0, 3, 1, 2)
        return y if self.bias is None else y + self.bias[:, None, None]


class DCGANGenerator(nn.Module):
    """G(z) for a latent z of size z_dim (for conditional GANs the latent already holds the code).
    Also a VAE's decoder, with ``tanh=False`` so that it emits one logit per pixel."""

    def __init__(self, z_dim: int = 100, channels: int = 1, size: int = 28, width: int = 64, tanh: bool = True,
                 fc_hidden: int = 0, layers: int = 0, kernel: int = 4):
        super().__init__()
        sizes = _plan(size, layers)
        s0 = sizes[0]
        self.z_dim, self.out_shape = z_dim, (channels, size, size)
        ch = width * 2 ** (len(sizes) - 2)
        if fc_hidden:  # InfoGAN's G: two FC layers, then the (ch, s0, s0) map
            net: list[nn.Module] = [
                nn.Linear(z_dim, fc_hidden, bias=False), nn.BatchNorm1d(fc_hidden), nn.ReLU(True),
                nn.Linear(fc_hidden, ch * s0 * s0, bias=False), nn.BatchNorm1d(ch * s0 * s0), nn.ReLU(True),
                nn.Unflatten(1, (ch, s0, s0))]
        else:  # project z to (ch, s0, s0) with a transposed conv: no FC layer
            net = [ProjectZ(z_dim, ch, s0, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for n, t in zip(sizes[:-2], sizes[1:-1]):
            net += [_up(ch, ch // 2, n, t, kernel, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        net += [_up(ch, channels, *sizes[-2:], kernel, bias=True)] + ([nn.Tanh()] if tanh else [])  # else logits
        self.net = nn.Sequential(*net)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        assert z.shape[1] == self.z_dim, z.shape
        x = self.net(z)  # (B, Z) -> (B, C, H, W)
        assert x.shape[1:] == self.out_shape, (x.shape, self.out_shape)
        return x


# D's normalisation: batch norm (DCGAN); layer norm, per sample over (C, H, W), for critics with a
# gradient penalty, which batch norm would break by mixing the samples (Gulrajani et al. 2017, Sec. 4);
# or none.
NORMS = {"batch": nn.BatchNorm2d, "layer": lambda c: nn.GroupNorm(1, c), "none": lambda c: nn.Identity()}
NORMS_1D = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm, "none": lambda c: nn.Identity()}


class DCGANDiscriminator(nn.Module):
    """Returns a feature vector via ``features`` and one logit per image via ``forward``."""

    def __init__(self, channels: int = 1, size: int = 28, width: int = 64, dropout: float = 0.0, cond_dim: int = 0,
                 norm: str = "batch", fc_hidden: int = 0, layers: int = 0, kernel: int = 4):
        super().__init__()
        sizes = _plan(size, layers)[::-1]  # image -> D's last map
        s0 = sizes[-1]
        self.in_shape, self.cond_dim = (channels, size, size), cond_dim
        ch = width
        body: list[nn.Module] = [_down(channels + cond_dim, ch, *sizes[:2], kernel, bias=True),
                                 nn.LeakyReLU(0.2, True)]
        if dropout:
            body.append(nn.Dropout2d(dropout))
        for n, t in zip(sizes[1:-1], sizes[2:]):
            body += [_down(ch, ch * 2, n, t, kernel, bias=norm == "none"), NORMS[norm](ch * 2), nn.LeakyReLU(0.2, True)]
            if dropout:
                body.append(nn.Dropout2d(dropout))
            ch *= 2
        if fc_hidden:  # InfoGAN's D: one FC hidden layer; features are its activations
            body += [nn.Flatten(), nn.Linear(ch * s0 * s0, fc_hidden, bias=norm == "none"),
                     NORMS_1D[norm](fc_hidden), nn.LeakyReLU(0.2, True)]
        self.body = nn.Sequential(*body)  # registered before the head: the optimiser state follows this order
        if fc_hidden:
            self.feature_dim, self.head = fc_hidden, nn.Linear(fc_hidden, 1)
        else:
            self.feature_dim = ch * s0 * s0
            self.head = nn.Conv2d(ch, 1, s0, 1, 0)  # the whole s0 x s0 map -> one logit, no FC hidden layer
        dcgan_init(self)

    def features(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        assert tuple(x.shape[1:]) == self.in_shape, (x.shape, self.in_shape)
        if cond is not None:  # label maps broadcast over the image (Mirza & Osindero 2014)
            x = torch.cat([x, cond[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)  # (B, C + K, H, W)
        return self.body(x)  # (B, ch, s0, s0), or (B, fc_hidden)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, cond)).flatten()  # (B,)
