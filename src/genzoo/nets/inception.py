"""The FID Inception-v3: the 2015-12-05 TensorFlow graph that Heusel et al. (2017) used for FID.

Numbers comparable with the literature need this exact network, not torchvision's Inception-v3:
the TF graph differs in three places, and its input path resizes like TensorFlow 1.x.
  * average pools inside the mixed blocks ignore the zero padding (``count_include_pad=False``);
  * the last mixed block (Mixed_7c) pools its fourth branch with a max pool, not an average;
  * images are resized to 299 x 299 with TF 1.x bilinear sampling (source = target * in / out, no
    half-pixel offset), then mapped from [0, 255] to [-1, 1] by (x - 128) / 128.
Features are the 2048-d global average pool ("pool3"); ``logits`` are the 1008-way classifier.

The module names follow the standard weight files (``pt_inception-2015-12-05-6726825d.pth`` of
pytorch-fid, ``weights-inception-2015-12-05-6726825d.pth`` of torch-fidelity), so their state dicts
load as they are. The blocks are built from the tables in ``_MIXED`` rather than written out one
class per block type: each branch is (pool, sequential convs, parallel convs concatenated at its end).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZE = 299
FEATURE_DIM = 2048


class ConvBN(nn.Module):
    """Conv (no bias) -> batch norm (eps 1e-3, as in the TF graph) -> ReLU; keys ``conv.*`` and ``bn.*``."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


# A conv: (name, out channels, kernel, stride, padding). Shorthands for the factorised 7x7 and 3x3 convs.
def _c(name, out, k=1, s=1, p=0):
    return (name, out, k, s, p)


def _row(name, out, n):  # 1 x n, same padding
    return (name, out, (1, n), 1, (0, n // 2))


def _col(name, out, n):  # n x 1, same padding
    return (name, out, (n, 1), 1, (n // 2, 0))


def _block_a(pool_features: int) -> list:
    return [(None, [_c("branch1x1", 64)], []),
            (None, [_c("branch5x5_1", 48), _c("branch5x5_2", 64, 5, 1, 2)], []),
            (None, [_c("branch3x3dbl_1", 64), _c("branch3x3dbl_2", 96, 3, 1, 1), _c("branch3x3dbl_3", 96, 3, 1, 1)], []),
            ("avg", [_c("branch_pool", pool_features)], [])]


def _block_b() -> list:
    return [(None, [_c("branch3x3", 384, 3, 2)], []),
            (None, [_c("branch3x3dbl_1", 64), _c("branch3x3dbl_2", 96, 3, 1, 1), _c("branch3x3dbl_3", 96, 3, 2)], []),
            ("max/2", [], [])]


def _block_c(c7: int) -> list:
    return [(None, [_c("branch1x1", 192)], []),
            (None, [_c("branch7x7_1", c7), _row("branch7x7_2", c7, 7), _col("branch7x7_3", 192, 7)], []),
            (None, [_c("branch7x7dbl_1", c7), _col("branch7x7dbl_2", c7, 7), _row("branch7x7dbl_3", c7, 7),
                    _col("branch7x7dbl_4", c7, 7), _row("branch7x7dbl_5", 192, 7)], []),
            ("avg", [_c("branch_pool", 192)], [])]


def _block_d() -> list:
    return [(None, [_c("branch3x3_1", 192), _c("branch3x3_2", 320, 3, 2)], []),
            (None, [_c("branch7x7x3_1", 192), _row("branch7x7x3_2", 192, 7), _col("branch7x7x3_3", 192, 7),
                    _c("branch7x7x3_4", 192, 3, 2)], []),
            ("max/2", [], [])]


def _block_e(pool: str) -> list:
    return [(None, [_c("branch1x1", 320)], []),
            (None, [_c("branch3x3_1", 384)], [_row("branch3x3_2a", 384, 3), _col("branch3x3_2b", 384, 3)]),
            (None, [_c("branch3x3dbl_1", 448), _c("branch3x3dbl_2", 384, 3, 1, 1)],
             [_row("branch3x3dbl_3a", 384, 3), _col("branch3x3dbl_3b", 384, 3)]),
            (pool, [_c("branch_pool", 192)], [])]


_MIXED = [("Mixed_5b", _block_a(32)), ("Mixed_5c", _block_a(64)), ("Mixed_5d", _block_a(64)),
          ("Mixed_6a", _block_b()), ("Mixed_6b", _block_c(128)), ("Mixed_6c", _block_c(160)),
          ("Mixed_6d", _block_c(160)), ("Mixed_6e", _block_c(192)), ("Mixed_7a", _block_d()),
          ("Mixed_7b", _block_e("avg")), ("Mixed_7c", _block_e("max"))]


def _pool(kind: str | None, x: torch.Tensor) -> torch.Tensor:
    if kind is None:
        return x
    if kind == "avg":  # TF's average pool divides by the number of real (unpadded) inputs
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    if kind == "max":
        return F.max_pool2d(x, 3, 1, 1)
    return F.max_pool2d(x, 3, 2)  # "max/2": the reduction blocks' pooled branch


class Mixed(nn.Module):
    """One inception block: the branches run on the same input and are concatenated along channels."""

    def __init__(self, cin: int, branches: list):
        super().__init__()
        self.plan = []
        self.out_channels = 0
        for pool, seq, par in branches:
            c = cin
            names = []
            for name, out, k, s, p in seq:
                self.add_module(name, ConvBN(c, out, k, s, p))
                names.append(name)
                c = out
            ends = []
            for name, out, k, s, p in par:
                self.add_module(name, ConvBN(c, out, k, s, p))
                ends.append(name)
            self.out_channels += sum(o for _, o, *_ in par) if par else c
            self.plan.append((pool, names, ends))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for pool, names, ends in self.plan:
            h = _pool(pool, x)
            for name in names:
                h = getattr(self, name)(h)
            outs.append(torch.cat([getattr(self, e)(h) for e in ends], 1) if ends else h)
        return torch.cat(outs, 1)


def resize_tf1(x: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) float images as TensorFlow 1.x's ``resize_bilinear`` with
    ``align_corners=False``: target pixel i samples source coordinate i * in / out (no half-pixel
    centres), between floor and the next pixel, clamped at the border."""
    def axis(n_in: int):
        pos = torch.arange(size, dtype=torch.float32) * (n_in / size)
        lo = pos.long()
        return lo, (lo + 1).clamp(max=n_in - 1), (pos - lo.float()).to(x.dtype)

    ylo, yhi, dy = axis(x.shape[2])
    xlo, xhi, dx = axis(x.shape[3])
    top, bottom = x[:, :, ylo], x[:, :, yhi]
    top = top[..., xlo] + (top[..., xhi] - top[..., xlo]) * dx
    bottom = bottom[..., xlo] + (bottom[..., xhi] - bottom[..., xlo]) * dx
    return top + (bottom - top) * dy[:, None]


class FIDInceptionV3(nn.Module):
    def __init__(self):
        super().__init__()
        stem = [("Conv2d_1a_3x3", 3, 32, 3, 2, 0), ("Conv2d_2a_3x3", 32, 32, 3, 1, 0),
                ("Conv2d_2b_3x3", 32, 64, 3, 1, 1), ("Conv2d_3b_1x1", 64, 80, 1, 1, 0),
                ("Conv2d_4a_3x3", 80, 192, 3, 1, 0)]
        for name, cin, cout, k, s, p in stem:
            self.add_module(name, ConvBN(cin, cout, k, s, p))
        c = 192
        self.mixed = []
        for name, branches in _MIXED:
            block = Mixed(c, branches)
            self.add_module(name, block)
            self.mixed.append(name)
            c = block.out_channels
        assert c == FEATURE_DIM, c
        self.fc = nn.Linear(FEATURE_DIM, 1008)
        self.eval()

    def features(self, images_u8: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 1 or 3, H, W) images -> (N, 2048) pool3 features. Grey images are repeated to RGB."""
        if images_u8.dtype != torch.uint8 or images_u8.dim() != 4 or images_u8.shape[1] not in (1, 3):
            raise ValueError(f"expected uint8 images (N, 1|3, H, W), got {images_u8.dtype} {tuple(images_u8.shape)}")
        x = images_u8.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (resize_tf1(x) - 128) / 128
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, 2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, 2)
        for name in self.mixed:
            x = getattr(self, name)(x)
        return x.mean((2, 3))

    def forward(self, images_u8: torch.Tensor) -> torch.Tensor:
        """The 1008 class logits."""
        return self.fc(self.features(images_u8))
