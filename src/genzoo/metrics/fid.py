"""Fréchet distance between Gaussians fitted to features (Heusel et al. 2017).

d² = |mu1 - mu2|² + tr(S1 + S2 - 2 (S1 S2)^{1/2}). The trace of the matrix square root is
computed as the sum of square roots of the eigenvalues of S1^{1/2} S2 S1^{1/2}, a symmetric PSD
matrix: the result is real by construction, never a complex number from ``sqrtm`` round-off.
"""
from __future__ import annotations

import numpy as np

from genzoo.errors import GenzooError


def check_features(feats, metric: str, which: str = "features") -> np.ndarray:
    """``feats`` as float64 (N, D), refusing NaN or Inf: a formula would return a plausible number or a
    linear-algebra traceback on them. The usual cause is a model whose outputs diverged."""
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2 or len(feats) == 0:
        raise GenzooError(f"{metric}: {which} must be a non-empty (N, D) array, got shape {feats.shape}")
    bad = ~np.isfinite(feats).all(1)
    if bad.any():
        raise GenzooError(f"{metric}: {int(bad.sum())} of {len(feats)} {which} vectors hold NaN or Inf; the model's "
                          "outputs are not finite: check the run with `genzoo diagnose RUN_DIR`, or evaluate an "
                          "earlier checkpoint")
    return feats


def gaussian_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    feats = check_features(feats, "Fréchet distance")
    n, d = feats.shape
    if n <= d:
        raise GenzooError(f"Fréchet distance needs more samples than feature dimensions: got {n} samples of "
                          f"{d}-d features (the covariance would be singular); use --n {d + 1} or more")
    return feats.mean(0), np.cov(feats, rowvar=False)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    if not all(np.isfinite(a).all() for a in (mu1, s1, mu2, s2)):
        raise GenzooError("Fréchet distance: the feature statistics hold NaN or Inf; recompute them from finite "
                          "features (delete a damaged statistics cache and evaluate again)")
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def fid(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two sets of features (N, D)."""
    return frechet_distance(*gaussian_stats(feats_a), *gaussian_stats(feats_b))
