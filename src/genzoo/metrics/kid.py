"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with k(x, y) = (x·y/d + 1)³,
averaged over random subsets (100 subsets of 1,000 by default)."""
from __future__ import annotations

import numpy as np


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kid(real: np.ndarray, fake: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """(mean, std) of MMD² over subsets; the subset size shrinks to the smaller set if needed.

    When both arguments are the same set, each subset pair is drawn disjoint: a point present on
    both sides would enter k(x, y) but never k(x, x'), biasing MMD² negative."""
    rng = np.random.default_rng(seed)
    same = real is fake or (np.shape(real) == np.shape(fake) and np.shares_memory(real, fake))
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    vals = []
    if same:
        size = min(subset_size, len(real) // 2)
        for _ in range(subsets):
            perm = rng.permutation(len(real))
            vals.append(mmd2_unbiased(real[perm[:size]], real[perm[size:2 * size]]))
    else:
        size = min(subset_size, len(real), len(fake))
        for _ in range(subsets):
            vals.append(mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                                      fake[rng.choice(len(fake), size, replace=False)]))
    return float(np.mean(vals)), float(np.std(vals))
