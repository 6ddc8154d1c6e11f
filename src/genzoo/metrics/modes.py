"""Class histograms of generated samples: the mode-collapse measurement of the z-dimension study,
and the classifier Inception Score (Salimans et al. 2016) from the same softmax outputs."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np


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


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))), mean and std over splits."""
    probs = np.asarray(probs, np.float64)
    scores = []
    for part in np.array_split(probs, splits):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(py + 1e-12))).sum(1).mean()
        scores.append(math.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


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
