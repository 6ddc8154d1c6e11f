"""The evaluation classifier: a small LeNet-like CNN with a named penultimate feature layer.

Features for FID/KID/PR/DC are the 128-d ``features`` output (after ReLU), as Bińkowski et al.
(2018) used LeNet features on MNIST; the class logits give mode histograms and the classifier
Inception Score.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class LeNet(nn.Module):
    def __init__(self, channels: int = 1, size: int = 28, num_classes: int = 10, feature_dim: int = 128,
                 width: int = 16, dropout: float = 0.3):
        super().__init__()
        self.in_shape = (channels, size, size)

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
                    nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
                    nn.MaxPool2d(2)]

        self.body = nn.Sequential(*block(channels, width), *block(width, 2 * width), *block(2 * width, 4 * width),
                                  nn.AdaptiveAvgPool2d(2))
        self.feature_dim = feature_dim
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(4 * width * 4, feature_dim), nn.ReLU(True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (B, feature_dim), for x in [-1, 1]."""
        assert tuple(x.shape[1:]) == self.in_shape, (x.shape, self.in_shape)
        return self.fc(self.body(x))  # (B, 4w, 2, 2) -> (B, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, num_classes) logits
