"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with k(x, y) = (x·y/d + 1)³,
averaged over random subsets (100 subsets of 1,000 by default)."""
from __future__ import annotations

import numpy as np

from genzoo.errors import GenzooError
from genzoo.metrics.fid import check_features


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kid(real: np.ndarray, fake: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0, same_set: bool = False) -> tuple[float, float]:
    """(mean, std) of MMD² over subsets; the subset size shrinks to the smaller set if needed. std has ddof 0.

    ``same_set=True`` says that ``real`` and ``fake`` are one set (the floor of a set against itself): then
    each subset pair is drawn disjoint from ``real`` alone and ``fake`` is not used, since a point present on
    both sides would enter k(x, y) but never k(x, x'), biasing MMD² negative. It is an explicit argument, never
    guessed from shared memory: two overlapping views of one array are two different sets."""
    if subsets < 1 or subset_size < 2:
        raise GenzooError(f"KID: subsets must be >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    rng = np.random.default_rng(seed)
    real = check_features(real, "KID", "real")
    vals = []
    if same_set:
        size = min(subset_size, len(real) // 2)
        if size < 2:
            raise GenzooError(f"KID: a set against itself needs at least 4 samples, got {len(real)}; use more")
        for _ in range(subsets):
            perm = rng.permutation(len(real))
            vals.append(mmd2_unbiased(real[perm[:size]], real[perm[size:2 * size]]))
    else:
        fake = check_features(fake, "KID", "fake")
        if real.shape[1] != fake.shape[1]:
            raise GenzooError(f"KID: real and fake features differ in dimension ({real.shape[1]} vs "
                              f"{fake.shape[1]}); extract both with the same extractor")
        size = min(subset_size, len(real), len(fake))
        if size < 2:
            raise GenzooError(f"KID: needs at least 2 samples in each set, got {len(real)} and {len(fake)}; use more")
        for _ in range(subsets):
            vals.append(mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                                      fake[rng.choice(len(fake), size, replace=False)]))
    return float(np.mean(vals)), float(np.std(vals))
