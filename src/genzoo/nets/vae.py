"""The encoder of autoencoders and VAEs: a discriminator's body with a latent head.

An encoder reads an image like a discriminator does, so genzoo reuses the D bodies (MLP or
DCGAN, with their broadcast label maps for the conditional VAE) and replaces the one-logit head
by a linear map to the posterior's mean and log-variance (Kingma & Welling 2014, App. C.2), or
to z itself for a deterministic autoencoder. The decoder is a generator without its tanh.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self, body: nn.Module, z_dim: int, stochastic: bool = True, num_classes: int = 0):
        super().__init__()
        body.head = nn.Identity()  # the body's features, not its logit
        self.body, self.z_dim, self.stochastic, self.num_classes = body, z_dim, stochastic, num_classes
        self.in_shape = body.in_shape
        self.out = nn.Linear(body.feature_dim, 2 * z_dim if stochastic else z_dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(mu, logvar) of q(z | x[, y]), each (B, z_dim); logvar is None for a deterministic encoder."""
        cond = F.one_hot(y, self.num_classes).to(x.dtype) if self.num_classes else None
        h = self.out(self.body.features(x, cond).flatten(1))
        if not self.stochastic:
            return h, None
        mu, logvar = h.chunk(2, 1)
        return mu, logvar.clamp(-12.0, 8.0)  # keeps exp(logvar) finite early in training


class PixelScale(nn.Module):
    """The Gaussian likelihood's log sigma per pixel: learned, or a fixed buffer."""

    def __init__(self, shape: tuple[int, ...], sigma: float):
        super().__init__()
        init = torch.full(shape, float(torch.tensor(sigma if sigma > 0 else 0.1).log()))
        if sigma > 0:
            self.register_buffer("log_sigma", init)
        else:
            self.log_sigma = nn.Parameter(init)

    def forward(self) -> torch.Tensor:
        return self.log_sigma.clamp(min=-6.0)  # sigma >= 0.0025, so the density stays bounded
