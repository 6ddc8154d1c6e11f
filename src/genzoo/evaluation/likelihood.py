"""AE/VAE runs: the likelihood side of the comparison, on the whole held-out test split."""
from __future__ import annotations

import torch

from genzoo import __version__
from genzoo.errors import at_least_1
from genzoo.training.distributed import Dist


def likelihood_metrics(cfg, algo, test, k: int, seed: int = 0, progress: bool = False, d: Dist = Dist()) -> dict:
    """AE/VAE runs: ELBO, importance-sampled NLL and reconstruction error on the whole test split ``test``.
    Under torchrun each rank takes a contiguous share of the test batches and the per-image values are
    all-gathered, so the means equal one process's."""
    from genzoo.metrics.likelihood import batch_count, heldout_terms

    at_least_1(k=k)
    b = test.batch(torch.arange(len(test)))
    terms = heldout_terms(algo, b["x"], b.get("y") if algo.labelled else None, k=k, seed=seed,
                          progress=progress and d.is_main, part=d.shard(batch_count(len(test), k)))
    r = {key: d.gather_rows(v).mean().item() for key, v in terms.items()}
    base = {"n": len(test), "reference": f"{cfg.data.dataset}:test", "unit": "nats per image",
            "binarised": bool(algo.binarize), "likelihood": algo.likelihood, "genzoo_version": __version__}
    out = {"rec_nll": {"value": r["rec_nll"], **base}, "rec_mse": {"value": r["rec_mse"], **base,
                                                                   "unit": "mean squared error per pixel on [0, 1]"}}
    if "elbo" in r:
        out = {"elbo": {"value": r["elbo"], **base}, f"nll[k={k}]": {"value": r["nll"], "k": k, **base}, **out}
    return out
