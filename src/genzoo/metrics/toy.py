"""Mode coverage on 2-D mixtures, as in VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018).

A sample is *high quality* when it lies within 3 standard deviations of its nearest mode.
A mode is *captured* when at least one high-quality sample has it as nearest mode.
``reverse_kl`` is KL(p_gen || uniform) over the modes, where p_gen is the histogram of the
nearest modes of all samples (Lin et al. 2018, Sec. 5 use 2,500 samples).
"""
from __future__ import annotations

import math

import torch


def toy_metrics(samples: torch.Tensor, centers: torch.Tensor, std: float) -> dict:
    samples, centers = samples.double(), centers.double()
    d = torch.cdist(samples, centers)            # (N, K)
    dist, nearest = d.min(1)                     # (N,), (N,)
    hq = dist <= 3 * std
    k = centers.shape[0]
    captured = torch.bincount(nearest[hq], minlength=k) > 0
    p = torch.bincount(nearest, minlength=k).double() / len(samples)
    kl = float((p[p > 0] * (p[p > 0] * k).log()).sum())
    return {
        "modes_captured": int(captured.sum()),
        "modes_total": k,
        "high_quality_fraction": float(hq.double().mean()),
        "reverse_kl": kl,
        "n_samples": int(len(samples)),
        "max_reverse_kl": math.log(k),
    }
