"""Conditioning for a discriminator: how D sees the label y (or, for InfoGAN, predicts the code).

The generator needs no wrapper: its input is the latent z ⊕ code, where the code is the one-hot
label (CGAN, Mirza & Osindero 2014) or InfoGAN's codes (Chen et al. 2016); see ``GAN.sample_z``.

Modes of ``ConditionalD`` around a base D with ``features(x, cond)``, ``head`` and ``feature_dim``:
  concat      the one-hot label enters D's input (a broadcast map for conv nets; built by the base D)
  projection  D(x, y) = psi(phi(x)) + <embed(y), phi(x)>  (Miyato & Koyama 2018, Eq. 3)
  acgan       D(x) plus an auxiliary classifier head on phi(x) (Odena et al. 2017)
  info        D(x) plus InfoGAN's Q head on phi(x), FC(128)-BN-LeakyReLU-FC as in Chen et al. 2016 (App. C.1):
              categorical logits, then continuous means
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

MODES = ("concat", "projection", "acgan", "info")


class ConditionalD(nn.Module):
    def __init__(self, base: nn.Module, mode: str, num_classes: int = 10, info_cat: int = 0, info_cont: int = 0):
        super().__init__()
        self.base, self.mode, self.num_classes = base, mode, num_classes
        self.in_shape = base.in_shape
        d = base.feature_dim
        if mode == "projection":
            self.embed = nn.Embedding(num_classes, d)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
        elif mode == "acgan":
            self.aux = nn.Linear(d, num_classes)
        elif mode == "info":
            self.q = nn.Sequential(nn.Linear(d, 128, bias=False), nn.BatchNorm1d(128), nn.LeakyReLU(0.2, True),
                                   nn.Linear(128, info_cat + info_cont))

    def scores(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits (B,), auxiliary output (B, K) or None). ``y``: int labels (B,), needed by concat/projection."""
        if self.mode == "concat":
            h = self.base.features(x, F.one_hot(y, self.num_classes).to(x.dtype))
            return self.base.head(h).flatten(), None
        h = self.base.features(x)
        logits = self.base.head(h).flatten()
        phi = h.flatten(1)                                            # (B, feature_dim)
        if self.mode == "projection":
            return logits + (self.embed(y) * phi).sum(1), None
        return logits, (self.aux(phi) if self.mode == "acgan" else self.q(phi))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.scores(x, y)[0]
