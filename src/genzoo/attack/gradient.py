"""Gradient attacks in [0, 1] pixel space: FGSM (Goodfellow et al. 2015) and PGD (Madry et al. 2018).

``model`` maps images in [0, 1] to logits (wrap a genzoo classifier, which reads [-1, 1], with
:class:`PixelModel`). ε is in [0, 1] pixel units, as torchattacks and foolbox use. Untargeted attacks
raise the cross-entropy of the true label; ``target=`` lowers the cross-entropy of the target label.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from genzoo.errors import GenzooError

NORMS = ("linf", "l2")


class PixelModel(nn.Module):
    """A classifier that reads [-1, 1], seen as one that reads [0, 1] (so ε stays in pixel units)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2.0 - 1.0)


def check_eps(eps: float) -> float:
    if not 0.0 <= float(eps) <= 1.0:
        raise GenzooError(f"eps={eps} is outside [0, 1]; ε is in pixel units (0.3 = 30% of the range)")
    return float(eps)


def _targets(y: torch.Tensor, target) -> torch.Tensor | None:
    if target is None:
        return None
    return torch.as_tensor(target, device=y.device).expand_as(y).long()


def attack_loss(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    """Per-example loss the attacker raises: CE of the true label, or minus CE of the target label."""
    if target is None:
        return F.cross_entropy(logits, y, reduction="none")
    return -F.cross_entropy(logits, target, reduction="none")


def _grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, target) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    loss = attack_loss(model(x), y, target)  # (B,)
    (g,) = torch.autograd.grad(loss.sum(), x)
    return g, loss.detach()


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, target=None) -> torch.Tensor:
    """One step x + ε·sign(∇ₓ loss), clipped to [0, 1] (targeted: a step down the target's loss)."""
    eps = check_eps(eps)
    g, _ = _grad(model, x, y, _targets(y, target))
    return (x + eps * g.sign()).clamp(0.0, 1.0).detach()


def _l2_normalize(v: torch.Tensor) -> torch.Tensor:
    n = v.flatten(1).norm(dim=1).clamp_min(1e-12)  # (B,)
    return v / n.view(-1, *([1] * (v.dim() - 1)))


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Onto the ε-ball around x (L∞ or L2), then onto the [0, 1] box."""
    delta = x_adv - x
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        n = delta.flatten(1).norm(dim=1).view(-1, *([1] * (x.dim() - 1)))  # (B, 1, 1, 1)
        delta = delta * torch.where(n > eps, eps / n.clamp_min(1e-12), torch.ones_like(n))
    return (x + delta).clamp(0.0, 1.0)


def _random_start(x: torch.Tensor, eps: float, norm: str, gen: torch.Generator | None) -> torch.Tensor:
    if norm == "linf":
        u = torch.rand(x.shape, generator=gen, device="cpu").to(x.device)
        return project(x + (2 * u - 1) * eps, x, eps, norm)
    # uniform in the L2 ball: a Gaussian direction, radius eps * U^(1/d)
    d = x[0].numel()
    v = _l2_normalize(torch.randn(x.shape, generator=gen, device="cpu").to(x.device))
    r = torch.rand(x.shape[0], generator=gen, device="cpu").to(x.device).pow(1.0 / d) * eps
    return project(x + v * r.view(-1, *([1] * (x.dim() - 1))), x, eps, norm)


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 40,
        step_size: float = 0.01, norm: str = "linf", random_start: bool = True, restarts: int = 1,
        target=None, seed: int = 0, callback: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
    """Projected gradient ascent (Madry et al. 2018). Each restart starts at a random point of the ball (or at x);
    per example, the result is the first restart that succeeds, else the one with the highest loss.
    ``callback(step, x_adv)`` sees every iterate (the tests check the ball and the box with it)."""
    eps = check_eps(eps)
    if norm not in NORMS:
        raise GenzooError(f"unknown norm '{norm}'; use linf or l2")
    if steps < 1 or restarts < 1 or step_size <= 0:
        raise GenzooError("PGD needs steps >= 1, restarts >= 1 and step_size > 0")
    tgt = _targets(y, target)
    gen = torch.Generator().manual_seed(seed)
    x = x.detach()
    best, best_loss, best_ok = x.clone(), torch.full((x.shape[0],), -float("inf"), device=x.device), None
    for _ in range(restarts):
        xa = _random_start(x, eps, norm, gen) if random_start and eps > 0 else x.clone()
        for t in range(steps):
            g, _ = _grad(model, xa, y, tgt)
            step = g.sign() if norm == "linf" else _l2_normalize(g)
            xa = project(xa + step_size * step, x, eps, norm).detach()
            if callback is not None:
                callback(t, xa)
        with torch.no_grad():
            logits = model(xa)
            loss = attack_loss(logits, y, tgt)
            ok = logits.argmax(1) != y if tgt is None else logits.argmax(1) == tgt
        if best_ok is None:
            best, best_loss, best_ok = xa, loss, ok
            continue
        take = (ok & ~best_ok) | ((ok == best_ok) & (loss > best_loss))  # (B,)
        best = torch.where(take.view(-1, *([1] * (x.dim() - 1))), xa, best)
        best_loss, best_ok = torch.where(take, loss, best_loss), best_ok | ok
    return best.detach()
