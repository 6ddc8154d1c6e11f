"""The MLP generator and discriminator of the 2014 GAN paper (Goodfellow et al., arXiv:1406.2661).

The paper used ReLU/sigmoid units in G and maxout with dropout in D; genzoo uses ReLU in G
and LeakyReLU (+ optional dropout) in D, following Goodfellow et al. 2014 and Radford et al. 2016 (avoid sparse
gradients in D). Works for flattened images (tanh output) and 2-D points (linear output).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, out_shape: tuple[int, ...], hidden: int = 256, layers: int = 2,
                 tanh: bool = True, batchnorm: bool = False, bn_momentum: float = 0.1):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        dims = [z_dim] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            norm = [nn.BatchNorm1d(b, momentum=bn_momentum)] if batchnorm else []
            mods += [nn.Linear(a, b, bias=not batchnorm)] + norm + [nn.ReLU(True)]
        mods.append(nn.Linear(dims[-1], math.prod(out_shape)))
        if tanh:
            mods.append(nn.Tanh())
        self.net = nn.Sequential(*mods)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.out_shape)  # (B, *out_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], hidden: int = 256, layers: int = 2, dropout: float = 0.0,
                 cond_dim: int = 0):
        super().__init__()
        self.in_shape, self.cond_dim = tuple(in_shape), cond_dim
        dims = [math.prod(in_shape) + cond_dim] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [nn.Linear(a, b), nn.LeakyReLU(0.2, True)]
            if dropout:
                mods.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*mods)
        self.feature_dim = dims[-1]
        self.head = nn.Linear(dims[-1], 1)

    def features(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        assert tuple(x.shape[1:]) == self.in_shape, (x.shape, self.in_shape)
        h = x.flatten(1)  # (B, prod(in_shape))
        if cond is not None:
            h = torch.cat([h, cond], 1)
        return self.body(h)  # (B, hidden)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, cond)).flatten()  # (B,)
