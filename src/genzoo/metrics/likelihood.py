"""Test-set likelihood of AEs and VAEs: the ELBO, the importance-sampled NLL and reconstruction error.

The NLL is -log p(x) estimated by the k-sample importance-weighted bound with q(z|x) as the
proposal (Burda et al. 2016, Sec. 5: k = 5000). It is an upper bound on the true NLL that
tightens as k grows, so it is reported with its k.
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from genzoo.losses.vae import iwae_bound


@torch.no_grad()
def heldout_likelihood(algo, x: torch.Tensor, y: torch.Tensor | None, k: int = 1000, seed: int = 0,
                       progress: bool = False, budget: int = 50_000) -> dict:
    """Per-image means over test images ``x`` (floats in [-1, 1]): the ELBO and the NLL (k-sample
    bound; VAEs only), the reconstruction term -log p(x|z) with z ~ q(z|x) (the AE's code), and the
    per-pixel squared error of the reconstruction at the posterior mean, on the [0, 1] scale.
    Binarised runs are measured on one fixed binarisation of the test images (drawn with ``seed``)."""
    return {key: v.mean().item() for key, v in heldout_terms(algo, x, y, k, seed, progress, budget).items()}


@torch.no_grad()
def heldout_terms(algo, x: torch.Tensor, y: torch.Tensor | None, k: int = 1000, seed: int = 0,
                  progress: bool = False, budget: int = 50_000, part: slice = slice(None)) -> dict:
    """The per-image values behind ``heldout_likelihood`` (keys rec_nll, rec_mse, and elbo, nll for VAEs) of the
    test batches ``part`` (of ``batch_count(len(x), k, budget)``). Each batch draws its noise from its own seed
    (``seed``, batch index), so contiguous parts concatenated in order give exactly the values of one call over
    every batch: several processes can split the work."""
    gen = torch.Generator().manual_seed(seed)
    x01 = (x + 1) / 2
    if algo.binarize:
        x01 = torch.bernoulli(x01, generator=gen)
    per = _per_batch(k, budget)
    xs = x01.split(per)
    ys = y.split(per) if y is not None else [None] * len(xs)
    mine = range(len(xs))[part]
    terms = {"rec_nll": [], "rec_mse": []} | ({"elbo": [], "nll": []} if algo.stochastic else {})
    with torch.random.fork_rng(devices=[]), algo._eval():
        for i in tqdm(mine, desc=f"test likelihood (k={k})", unit="batch", disable=not progress, dynamic_ncols=True):
            torch.manual_seed(int(np.random.SeedSequence([seed, i]).generate_state(1)[0]))
            xb = xs[i].to(algo.device)
            yb = None if ys[i] is None else ys[i].to(algo.device)
            t = algo.terms(xb, yb)
            terms["rec_nll"].append(t["rec"].cpu())
            if algo.stochastic:
                terms["elbo"].append(-(t["rec"] + t["kl"]).cpu())
                lw = torch.cat([algo.log_weights(xb, yb, kk) for kk in _split(k, budget // xb.shape[0])])
                terms["nll"].append(-iwae_bound(lw).cpu())
            z = algo.encode(xb * 2 - 1, yb)
            terms["rec_mse"].append((algo.generate(z) + 1).div(2).sub(xb).pow(2).flatten(1).mean(1).cpu())
    return {key: torch.cat(v) if v else torch.zeros(0) for key, v in terms.items()}


def _per_batch(k: int, budget: int) -> int:
    return max(1, budget // max(k, 1))  # images per batch, so that k * images stays near the budget


def batch_count(n: int, k: int, budget: int = 50_000) -> int:
    """How many batches ``heldout_terms`` splits n test images into."""
    return -(-n // _per_batch(k, budget))


def _split(k: int, size: int) -> list[int]:
    size = max(1, size)
    return [size] * (k // size) + ([k % size] if k % size else [])
