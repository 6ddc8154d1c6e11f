"""How well a conditional model obeys its code, judged by the evaluation classifier.

label_accuracy     CGAN/ACGAN: the fraction of samples generated for class y classified as y.
category_accuracy  InfoGAN: its categories carry no names, so each category is matched to one class
                   by the one-to-one assignment that maximises agreement (the Hungarian algorithm,
                   as Chen et al. 2016 match categories to digits), then scored like a label.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def label_accuracy(pred: np.ndarray, intended: np.ndarray) -> float:
    return float((np.asarray(pred) == np.asarray(intended)).mean())


def category_accuracy(pred: np.ndarray, category: np.ndarray, k: int, num_classes: int | None = None) -> tuple[float, list[int]]:
    """(accuracy, mapping): mapping[c] is the class matched to category c."""
    m = num_classes or k
    counts = np.zeros((k, m), dtype=np.int64)
    np.add.at(counts, (np.asarray(category), np.asarray(pred)), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    mapping = [-1] * k
    for r, c in zip(rows, cols):
        mapping[int(r)] = int(c)
    return float(counts[rows, cols].sum() / counts.sum()), mapping
