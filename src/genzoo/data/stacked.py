"""Stacked MNIST: three random MNIST digits as the R, G and B channels of one image, 1,000 classes.

Metz et al. 2017 (unrolled GANs), Srivastava et al. 2017 (VEEGAN) and Lin et al. 2018 (PacGAN, Sec. 5.2)
count the modes a generator covers as the distinct digit triples among its samples. The dataset is computed,
not downloaded: 128,000 training images from the MNIST training split and 10,000 test images from the
MNIST test split, each digit drawn independently and uniformly from its split by a seeded generator, so the
same seed always gives the same images. The label is 100 * R + 10 * G + B.
"""
from __future__ import annotations

import numpy as np
import torch

SIZES = {"train": 128_000, "test": 10_000}
SEEDS = {"train": 0, "test": 1}  # fixed: every run trains and is evaluated on the same images
CLASS_NAMES = [f"{k:03d}" for k in range(1000)]


def stack_digits(images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, n: int,
                 seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n stacked images from MNIST ``images`` (N, 28, 28) uint8 and their ``labels`` (N,):
    uint8 (n, 3, 28, 28) and labels 100 * r + 10 * g + b (n,)."""
    images = images if torch.is_tensor(images) else torch.from_numpy(np.array(images))  # numpy: a writable copy
    labels = (labels if torch.is_tensor(labels) else torch.from_numpy(np.array(labels))).long()
    if images.ndim == 4:  # (N, 1, H, W)
        images = images[:, 0]
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(images), (n, 3), generator=g)  # (n, 3): one digit per channel
    x = images[idx]                                         # (n, 3, H, W)
    t = labels[idx]                                         # (n, 3)
    return x.contiguous(), t[:, 0] * 100 + t[:, 1] * 10 + t[:, 2]


def triples(y: torch.Tensor) -> torch.Tensor:
    """Labels 0..999 -> the digits (n, 3) of R, G and B."""
    return torch.stack([y // 100, y // 10 % 10, y % 10], 1)
