"""Stacked MNIST runs: modes and KL to uniform over the 1,000 digit triples (PacGAN Table 2's protocol).

Each channel of every sample is classified by the MNIST evaluation classifier (lenet-mnist); a sample's mode
is its triple of digits. Reported: the number of distinct triples among n samples (26,000 in Metz et al. 2017
and Lin et al. 2018) and KL(p_gen || uniform over 1,000). FID and friends need a classifier of 3-channel
images, which genzoo does not ship, so they are not reported for this dataset.
"""
from __future__ import annotations

import math

import torch

from genzoo import __version__
from genzoo.metrics.classifier import load_classifier
from genzoo.metrics.features import extract

N_DEFAULT = 26_000
MODES = 1000


def channel_digits(images_u8: torch.Tensor, net=None) -> torch.Tensor:
    """uint8 (N, 3, 28, 28) -> the classifier's digit for each channel (N, 3)."""
    net = net or load_classifier("mnist")[0]
    n, c, h, w = images_u8.shape
    assert c == 3, images_u8.shape
    probs = extract(net, images_u8.reshape(n * 3, 1, h, w)).probs  # (3N, 10)
    return torch.as_tensor(probs).argmax(1).view(n, 3)             # (N, 3)


def stacked_modes(triple_ids: torch.Tensor) -> dict:
    """Mode count and KL(p_gen || uniform over 1,000) of triple ids 0..999."""
    counts = torch.bincount(triple_ids.long().flatten(), minlength=MODES).double()
    p = counts / counts.sum()
    nz = p[p > 0]
    return {"modes": int((counts > 0).sum()), "modes_total": MODES,
            "kl_to_uniform": float((nz * (nz * MODES).log()).sum()), "max_kl": math.log(MODES),
            "n_samples": int(counts.sum())}


def evaluate_stacked(run, n: int | None, seed: int) -> dict:
    """The run's n samples (default 26,000), each channel labelled by lenet-mnist."""
    n = N_DEFAULT if n is None else n
    net, meta = load_classifier("mnist")
    d = channel_digits(run.sample(n, seed), net)
    m = stacked_modes(d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2])
    m["classifier"] = "lenet-mnist"
    return {"genzoo_version": __version__, "run": str(run.path), "step": run.step, "dataset": run.cfg.data.dataset,
            "recipe": run.cfg.recipe, "seed": seed, "metrics": m}
