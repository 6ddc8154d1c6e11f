"""Regularisers of the discriminator that need the network, not just its logits."""
from __future__ import annotations

from typing import Callable

import torch


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None,
                     eps: torch.Tensor | None = None, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """WGAN-GP: E[(||grad D(x_hat)||_2 - 1)^2] on x_hat = eps*x + (1-eps)*G(z), one eps per sample
    (Gulrajani et al. 2017, Alg. 1). Returns (penalty, per-sample gradient norms). ``eps`` (B, 1, ...) may be
    given (distributed training draws it for the global batch); the penalty is a mean over this process's
    samples, and averaging the gradients over ranks makes it the global mean. Only the penalty's graph is
    built with ``create_graph``; the caller then takes one ordinary backward of the whole loss. ``scale``: fp16
    training's loss scale; the inner gradient is taken of the scaled output and divided back, so it does not
    underflow in half precision (an overflow gives inf, which the scaler then skips)."""
    if eps is None:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, generator=generator)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # (B, ...)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum() * scale, x_hat, create_graph=True)
    if scale != 1.0:
        grad = grad / scale
    norms = grad.flatten(1).norm(2, dim=1)  # (B,)
    return (norms - 1).pow(2).mean(), norms
