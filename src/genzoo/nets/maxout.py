"""Maxout units and the maxout MLP discriminator of PacGAN's 2-D experiments.

A maxout unit (Goodfellow et al. 2013, arXiv:1302.4389) is the maximum of k affine pieces:
h_j(x) = max_i (x W_ij + b_ij). Goodfellow et al. 2014 used maxout in the GAN's D; PacGAN's 2-D
experiments (Lin et al. 2018, fjxmlzn/PacGAN ``synthetic_data_experiments``) use three LinearMaxout
layers of 200 units with 5 pieces each and a linear logit, weights N(0, 0.02), biases 0.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn


class LinearMaxout(nn.Module):
    """``out_features`` maxout units, each the max over ``pieces`` linear pieces of the input."""

    def __init__(self, in_features: int, out_features: int, pieces: int = 5):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)  # piece i of unit j is column j * pieces + i

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear(x).view(*x.shape[:-1], self.out_features, self.pieces)  # (B, out, pieces)
        # max() rather than amax(): its backward scatters the gradient to the winning piece by index, where
        # amax's compares, counts and divides (a third of a PacGAN step); the two differ only on exact ties
        return h.max(-1).values  # (B, out)


class MaxoutDiscriminator(nn.Module):
    """D(x): ``layers`` LinearMaxout layers of ``hidden`` units, then one linear logit. ``in_shape`` is the
    shape D reads, e.g. (2 * pack,) for packed 2-D points."""

    def __init__(self, in_shape: tuple[int, ...], hidden: int = 200, layers: int = 3, pieces: int = 5,
                 init_std: float = 0.02):
        super().__init__()
        self.in_shape, self.cond_dim = tuple(in_shape), 0
        dims = [math.prod(in_shape)] + [hidden] * layers
        self.body = nn.Sequential(*[LinearMaxout(a, b, pieces) for a, b in zip(dims[:-1], dims[1:])])
        self.feature_dim = dims[-1]
        self.head = nn.Linear(dims[-1], 1)
        for m in self.modules():  # PacGAN: IsotropicGaussian(0.02) weights, Constant(0) biases
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, init_std)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        assert tuple(x.shape[1:]) == self.in_shape, (x.shape, self.in_shape)
        assert cond is None, "the maxout D is unconditional"
        return self.body(x.flatten(1))  # (B, hidden)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, cond)).flatten()  # (B,)
