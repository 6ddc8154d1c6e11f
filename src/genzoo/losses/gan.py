"""GAN objectives as pure functions of D's logits. Each returns a scalar to *minimise*.

Notation: r = D(x) logits on real data, f = D(G(z)) logits on generated data,
sigma = sigmoid. log sigma(t) = -softplus(-t) and log(1 - sigma(t)) = -softplus(t), so every
log-loss below is computed stably from logits, never through Sigmoid + BCELoss.

Targets for the log-losses may be tensors, which is how one-sided label smoothing
(real target 0.9) and label flipping (per-sample swapped targets) enter.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

Target = float | torch.Tensor


def _bce(logits: torch.Tensor, target: Target) -> torch.Tensor:
    if not torch.is_tensor(target):
        target = torch.full_like(logits, float(target))
    return F.binary_cross_entropy_with_logits(logits, target)


# -- the 2014 GAN: D maximises log D(x) + log(1 - D(G(z))) (Goodfellow et al. 2014, Eq. 1) --
def log_d(r: torch.Tensor, f: torch.Tensor, real_target: Target = 1.0, fake_target: Target = 0.0) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))] (binary cross-entropy with targets 1 and 0)."""
    return _bce(r, real_target) + _bce(f, fake_target)


def minimax_g(f: torch.Tensor) -> torch.Tensor:
    """Saturating: G minimises E[log(1 - D(G(z)))] = -E[softplus(f)]."""
    return -F.softplus(f).mean()


def nsgan_g(f: torch.Tensor) -> torch.Tensor:
    """Non-saturating: G maximises E[log D(G(z))], i.e. minimises E[softplus(-f)] (Goodfellow et al. 2014, Sec. 3)."""
    return F.softplus(-f).mean()


# -- LSGAN (Mao et al. 2017, Eq. 2): labels a (fake), b (real), c (what G wants D to believe) --
def lsgan_d(r: torch.Tensor, f: torch.Tensor, a: float = 0.0, b: Target = 1.0) -> torch.Tensor:
    return 0.5 * ((r - b).pow(2).mean() + (f - a).pow(2).mean())


def lsgan_g(f: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    return 0.5 * (f - c).pow(2).mean()


# -- WGAN (Arjovsky et al. 2017): critic maximises E[D(x)] - E[D(G(z))] --
def wgan_d(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return f.mean() - r.mean()


def wgan_g(f: torch.Tensor) -> torch.Tensor:
    return -f.mean()


# -- hinge (Lim & Ye 2017; Miyato et al. 2018) --
def hinge_d(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean()


def hinge_g(f: torch.Tensor) -> torch.Tensor:
    return -f.mean()


@dataclass(frozen=True)
class GANLoss:
    d: Callable[..., torch.Tensor]
    g: Callable[..., torch.Tensor]
    uses_targets: bool      # log-loss style: label smoothing / flipping apply
    critic: bool = False    # unbounded critic output (Wasserstein estimate is meaningful)


GAN_LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss(log_d, minimax_g, True),
    "nsgan": GANLoss(log_d, nsgan_g, True),
    "lsgan": GANLoss(lsgan_d, lsgan_g, True),
    "wgan": GANLoss(wgan_d, wgan_g, False, critic=True),
    "wgan-gp": GANLoss(wgan_d, wgan_g, False, critic=True),
    "hinge": GANLoss(hinge_d, hinge_g, False),
}


def mean_d_output(loss_name: str, logits: torch.Tensor) -> float:
    """D's mean output as people read it: a probability for the log-losses, the raw score for LSGAN
    (whose targets are its labels), critics and hinge."""
    if GAN_LOSSES[loss_name].uses_targets and loss_name != "lsgan":
        return torch.sigmoid(logits).mean().item()
    return logits.mean().item()
