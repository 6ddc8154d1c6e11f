"""Test-set likelihood of AEs and VAEs: the ELBO, the importance-sampled NLL and reconstruction error.

The NLL is -log p(x) estimated by the k-sample importance-weighted bound with q(z|x) as the
proposal (Burda et al. 2016, Sec. 5: k = 5000). It is an upper bound on the true NLL that
tightens as k grows, so it is reported with its k.
"""
from __future__ import annotations

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
    gen = torch.Generator().manual_seed(seed)
    x01 = (x + 1) / 2
    if algo.binarize:
        x01 = torch.bernoulli(x01, generator=gen)
    with torch.random.fork_rng(devices=[]), algo._eval():
        torch.manual_seed(seed)
        elbo, nll, rec, mse = [], [], [], []
        per = max(1, budget // max(k, 1))  # images per batch, so that k * images stays near the budget
        xs = x01.split(per)
        chunks = list(zip(xs, y.split(per) if y is not None else [None] * len(xs)))
        for xb, yb in tqdm(chunks, desc=f"test likelihood (k={k})", unit="batch", disable=not progress,
                           dynamic_ncols=True):
            xb = xb.to(algo.device)
            yb = None if yb is None else yb.to(algo.device)
            t = algo.terms(xb, yb)
            rec.append(t["rec"].cpu())
            if algo.stochastic:
                elbo.append(-(t["rec"] + t["kl"]).cpu())
                lw = torch.cat([algo.log_weights(xb, yb, kk) for kk in _split(k, budget // xb.shape[0])])
                nll.append(-iwae_bound(lw).cpu())
            z = algo.encode(xb * 2 - 1, yb)
            mse.append((algo.generate(z) + 1).div(2).sub(xb).pow(2).flatten(1).mean(1).cpu())
    out = {"rec_nll": torch.cat(rec).mean().item(), "rec_mse": torch.cat(mse).mean().item()}
    if algo.stochastic:
        out |= {"elbo": torch.cat(elbo).mean().item(), "nll": torch.cat(nll).mean().item()}
    return out


def _split(k: int, size: int) -> list[int]:
    size = max(1, size)
    return [size] * (k // size) + ([k % size] if k % size else [])
