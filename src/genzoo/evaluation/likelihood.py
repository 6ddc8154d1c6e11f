"""AE/VAE runs: the likelihood side of the comparison, on the whole held-out test split."""
from __future__ import annotations

import torch

from genzoo import __version__
from genzoo.errors import GenzooError


def likelihood_metrics(cfg, algo, test, k: int, seed: int = 0, progress: bool = False) -> dict:
    """AE/VAE runs: ELBO, importance-sampled NLL and reconstruction error on the whole test split ``test``."""
    from genzoo.metrics.likelihood import heldout_likelihood

    if k < 1:
        raise GenzooError("--k must be at least 1")
    b = test.batch(torch.arange(len(test)))
    r = heldout_likelihood(algo, b["x"], b.get("y") if algo.labelled else None, k=k, seed=seed, progress=progress)
    base = {"n": len(test), "reference": f"{cfg.data.dataset}:test", "unit": "nats per image",
            "binarised": bool(algo.binarize), "likelihood": algo.likelihood, "genzoo_version": __version__}
    out = {"rec_nll": {"value": r["rec_nll"], **base}, "rec_mse": {"value": r["rec_mse"], **base,
                                                                   "unit": "mean squared error per pixel on [0, 1]"}}
    if "elbo" in r:
        out = {"elbo": {"value": r["elbo"], **base}, f"nll[k={k}]": {"value": r["nll"], "k": k, **base}, **out}
    return out
