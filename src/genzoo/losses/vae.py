"""Likelihoods and bounds of autoencoders and VAEs, as pure functions.

Images enter in [0, 1]. The decoder emits one logit per pixel; the likelihood turns it into a
distribution over the pixel (Kingma & Welling 2014, arXiv:1312.6114):
  bernoulli    binary pixels (dynamically binarised MNIST, Burda et al. 2016, arXiv:1509.00519)
  gaussian     N(x; sigmoid(logit), sigma^2), sigma fixed or learned (log_sigma per pixel)
  cbernoulli   the continuous Bernoulli on [0, 1] (Loaiza-Ganem & Cunningham 2019, arXiv:1907.06845)
Every function returns one value per sample (summed over pixels or latent dimensions), in nats.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LIKELIHOODS = ("bernoulli", "gaussian", "cbernoulli")
_LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) in closed form (Kingma & Welling 2014, App. B). (B,)"""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor | None = None,
                         logvar: torch.Tensor | None = None) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))), summed over the last dimension; standard normal by default."""
    if mu is None:
        return -0.5 * (z.pow(2) + _LOG_2PI).sum(-1)
    return -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + _LOG_2PI).sum(-1)


def _cb_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """log C(lambda) of the continuous Bernoulli, C = 2 artanh(1 - 2 lambda) / (1 - 2 lambda), with
    its Taylor expansion log 2 + (4/3) u^2 (u = lambda - 1/2) near lambda = 1/2 where the ratio is 0/0."""
    lam = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
    u = lam - 0.5
    near = u.abs() < 1e-2
    safe = torch.where(near, torch.full_like(lam, 0.25), lam)  # keeps the unused branch finite (and its grads)
    exact = torch.log(2 * torch.atanh(1 - 2 * safe).abs()) - torch.log((1 - 2 * safe).abs())
    return torch.where(near, math.log(2.0) + (4.0 / 3.0) * u.pow(2), exact)


def log_likelihood(kind: str, logits: torch.Tensor, x: torch.Tensor,
                   log_sigma: torch.Tensor | None = None) -> torch.Tensor:
    """log p(x | z) for images x in [0, 1] given the decoder's logits, summed per sample. (B,)"""
    if kind == "bernoulli":
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    if kind == "cbernoulli":
        ll = -F.binary_cross_entropy_with_logits(logits, x, reduction="none") + _cb_log_norm(logits)
        return ll.flatten(1).sum(1)
    if kind == "gaussian":
        ls = log_sigma.expand_as(logits)
        ll = -0.5 * ((x - torch.sigmoid(logits)) * torch.exp(-ls)).pow(2) - ls - 0.5 * _LOG_2PI
        return ll.flatten(1).sum(1)
    raise ValueError(f"unknown likelihood {kind}; valid: {', '.join(LIKELIHOODS)}")


def decoder_mean(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """E[x | z] in [0, 1]: what a sample grid shows."""
    lam = torch.sigmoid(logits)
    if kind != "cbernoulli":
        return lam
    # mean of the continuous Bernoulli: lambda / (2 lambda - 1) + 1 / (2 artanh(1 - 2 lambda)); 1/2 at lambda = 1/2
    lam = lam.clamp(1e-6, 1 - 1e-6)
    near = (lam - 0.5).abs() < 1e-3
    safe = torch.where(near, torch.full_like(lam, 0.25), lam)
    mean = safe / (2 * safe - 1) + 1 / (2 * torch.atanh(1 - 2 * safe))
    return torch.where(near, 0.5 + (lam - 0.5) / 3, mean)


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """The importance-weighted bound log (1/k) sum_i w_i from log weights (k, B) (Burda et al. 2016, Eq. 8).
    With k = 1 it is the ELBO; as k grows it tightens towards log p(x), which is how NLL is estimated. (B,)"""
    return torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])
