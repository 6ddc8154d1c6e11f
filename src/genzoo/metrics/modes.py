"""Class histograms of generated samples: the mode-collapse measurement of the z-dimension study,
and the classifier Inception Score (Salimans et al. 2016) from the same softmax outputs."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from genzoo.errors import GenzooError


def mode_histogram(pred: np.ndarray, num_classes: int) -> dict:
    counts = np.bincount(np.asarray(pred), minlength=num_classes)
    p = counts / counts.sum()
    nz = p[p > 0]
    return {
        "counts": counts.tolist(),
        "kl_to_uniform": float((nz * np.log(nz * num_classes)).sum()),
        "entropy": float(-(nz * np.log(nz)).sum()),
        "max_entropy": math.log(num_classes),
        "classes_covered": int((p >= 0.01).sum()),
    }


def inception_score(probs: np.ndarray, splits: int = 10, shuffle: bool = True, seed: int = 0,
                    ddof: int = 0) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))), mean and std over ``splits`` equal parts (Salimans et al. 2016).

    The samples are shuffled (seeded) before splitting, as torch-fidelity does: split in their given order, a
    class-sorted set gives each part one class and a far lower score. ``shuffle=False`` keeps the order (the
    original TF code). The std uses ``ddof`` 0 like torch-fidelity and the TF code; torchmetrics uses ddof 1."""
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or len(probs) < splits or splits < 1:
        raise GenzooError(f"Inception score: needs (N, classes) probabilities with N >= splits ({splits}), got "
                          f"shape {probs.shape}; use more samples")
    if not np.isfinite(probs).all() or (probs < 0).any():
        raise GenzooError("Inception score: the class probabilities hold NaN, Inf or negative values; check the "
                          "run with `genzoo diagnose RUN_DIR`, or evaluate an earlier checkpoint")
    if shuffle:
        probs = probs[np.random.default_rng(seed).permutation(len(probs))]
    scores = []
    for part in np.array_split(probs, splits):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(py + 1e-12))).sum(1).mean()
        scores.append(math.exp(kl))
    return float(np.mean(scores)), float(np.std(scores, ddof=ddof))


def modes_png(counts: list[int], class_names: list[str], path: Path, title: str = "") -> None:
    """The bar chart of the z-dimension study: frequency of each class among generated samples."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genzoo.io import atomic_write_bytes

    n = sum(counts)
    fig, ax = plt.subplots(figsize=(6, 3), dpi=90)
    ax.bar(range(len(counts)), [c / n for c in counts], color="tab:blue")
    ax.axhline(1 / len(counts), color="k", ls="--", lw=1, label="uniform")
    ax.set_xticks(range(len(counts)))
    ax.set_xticklabels(class_names, rotation=45 if max(len(c) for c in class_names) > 2 else 0, fontsize=8)
    ax.set_ylabel("frequency")
    ax.set_title(title or f"classes of {n} generated samples", fontsize=9)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
