"""Stacked MNIST runs: modes and KL to uniform over the 1,000 digit triples (PacGAN Table 2's protocol).

Each channel of every sample is classified by the MNIST evaluation classifier (lenet-mnist); a sample's mode
is its triple of digits. Reported: the number of distinct triples among n samples (26,000 in Metz et al. 2017
and Lin et al. 2018) and KL(p_gen || uniform over 1,000). That KL splits exactly into the channels' own KLs to
uniform over 10 digits (G favours some digits in a channel) plus the total correlation between the channels (G
ties the digits of one image together), reported as ``kl_channels`` and ``total_correlation`` to show which of
the two a run's excess KL comes from:

    KL(p || U^3) = sum_c KL(p_c || U) + (sum_c H(p_c) - H(p))

``low_confidence`` is the fraction of channel images the classifier labels with probability below 0.9 (real
stacked test images: about 4 %): where it is high, the histogram counts how the classifier reads ambiguous strokes
more than digits. FID and friends need a classifier of 3-channel images, which genzoo does not ship, so they are
not reported for this dataset.
"""
from __future__ import annotations

import math

import torch

from genzoo import __version__
from genzoo.metrics.classifier import load_classifier
from genzoo.metrics.features import extract

N_DEFAULT = 26_000
MODES = 1000


CONFIDENT = 0.9  # a channel image is read confidently when the classifier gives its digit at least this probability


def channel_probs(images_u8: torch.Tensor, net=None) -> torch.Tensor:
    """uint8 (N, 3, 28, 28) -> the classifier's digit probabilities for each channel (N, 3, 10)."""
    net = net or load_classifier("mnist")[0]
    n, c, h, w = images_u8.shape
    assert c == 3, images_u8.shape
    probs = extract(net, images_u8.reshape(n * 3, 1, h, w)).probs  # (3N, 10)
    return torch.as_tensor(probs).view(n, 3, 10)                   # (N, 3, 10)


def channel_digits(images_u8: torch.Tensor, net=None) -> torch.Tensor:
    """uint8 (N, 3, 28, 28) -> the classifier's digit for each channel (N, 3)."""
    return channel_probs(images_u8, net).argmax(2)


def _entropy(counts: torch.Tensor) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


def stacked_modes(triple_ids: torch.Tensor) -> dict:
    """Mode count, KL(p_gen || uniform over 1,000) of triple ids 0..999 (digit c of id is the c-th of its three
    decimal digits) and that KL's split into the three channels' KLs and their total correlation."""
    ids = triple_ids.long().flatten()
    counts = torch.bincount(ids, minlength=MODES).double()
    digits = torch.stack([ids // 100, ids // 10 % 10, ids % 10], 1)  # (N, 3)
    h_channels = [_entropy(torch.bincount(digits[:, c], minlength=10).double()) for c in range(3)]
    h = _entropy(counts)
    return {"modes": int((counts > 0).sum()), "modes_total": MODES,
            "kl_to_uniform": math.log(MODES) - h, "max_kl": math.log(MODES),
            "kl_channels": [math.log(10) - hc for hc in h_channels],
            "total_correlation": sum(h_channels) - h,
            "n_samples": int(counts.sum())}


def evaluate_stacked(run, n: int | None, seed: int) -> dict:
    """The run's n samples (default 26,000), each channel labelled by lenet-mnist."""
    n = N_DEFAULT if n is None else n
    net, meta = load_classifier("mnist")
    probs = channel_probs(run.sample(n, seed), net)  # (N, 3, 10)
    d = probs.argmax(2)
    m = stacked_modes(d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2])
    m["low_confidence"] = float((probs.max(2).values < CONFIDENT).double().mean())
    m["classifier"] = "lenet-mnist"
    return {"genzoo_version": __version__, "run": str(run.path), "step": run.step, "dataset": run.cfg.data.dataset,
            "recipe": run.cfg.recipe, "seed": seed, "metrics": m}
