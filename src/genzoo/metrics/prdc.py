"""k-NN manifold metrics on features.

Improved precision and recall (Kynkäänniemi et al. 2019, k=3): a sample is inside a set's
manifold when it lies within the k-NN radius of some point of that set.
Density and coverage (Naeem et al. 2020, k=5): density counts how many real k-NN balls contain
each fake sample (divided by k); coverage is the fraction of real balls that contain a fake sample.

Balls are closed by default: a point at exactly the k-NN radius is inside (d <= r), as in Kynkäänniemi et al.'s
reference code. The ``prdc`` package (Naeem et al.) uses open balls (d < r). The two agree except on ties,
which are real for duplicated or memorised samples (a fake that copies a real image sits at distance 0 from it,
and duplicates make radii 0); ``strict_radius=True`` gives prdc's numbers.
"""
from __future__ import annotations

import numpy as np
import torch

from genzoo.errors import GenzooError
from genzoo.metrics.fid import check_features


def _cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b)  # the fast matrix-product route; ties are settled by _exact below


def _tol(*sets: torch.Tensor) -> float:
    """Round-off bound of the matrix-product route on squared distances."""
    return 1e-9 * max(float(t.pow(2).sum(1).max()) if len(t) else 0.0 for t in sets) + 1e-300


def _exact(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a_i - b_i| from direct differences: a copy of a point gives the same number bit for bit, so the ball
    convention (closed or open) decides the ties of duplicated or memorised samples, not round-off."""
    return (a - b).norm(dim=1)


def _dists(a: torch.Tensor, b: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    return torch.cat([_cdist(a[i:i + chunk], b) for i in range(0, len(a), chunk)])  # (len(a), len(b))


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour in the same set (itself excluded)."""
    out = []
    for i in range(0, len(x), 2048):
        d = _cdist(x[i:i + 2048], x)
        idx = d.kthvalue(k + 1, dim=1).indices  # the 1st "neighbour" is the point itself
        out.append(_exact(x[i:i + 2048], x[idx]))
    return torch.cat(out)


def _inside(query: torch.Tensor, ref: torch.Tensor, radii: torch.Tensor, strict: bool = False) -> torch.Tensor:
    """Count, for each query point, the reference balls containing it (distances within round-off of a
    radius recomputed exactly). (Nq,)"""
    counts, tol = [], _tol(query, ref)
    for i in range(0, len(query), 2048):
        q = query[i:i + 2048]
        d = _cdist(q, ref)  # (chunk, Nr)
        r, c = torch.nonzero((d.pow(2) - radii[None].pow(2)).abs() <= tol, as_tuple=True)
        if len(r):
            d[r, c] = _exact(q[r], ref[c])
        counts.append(((d < radii[None]) if strict else (d <= radii[None])).sum(1))
    return torch.cat(counts)


def _pair(real, fake, k: int, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    r, f = check_features(real, metric, "real"), check_features(fake, metric, "fake")
    if r.shape[1] != f.shape[1]:
        raise GenzooError(f"{metric}: real and fake features differ in dimension ({r.shape[1]} vs {f.shape[1]}); "
                          "extract both with the same extractor")
    if not 1 <= k < min(len(r), len(f)):
        raise GenzooError(f"{metric}: k={k} needs more than k samples in each set (got {len(r)} real, {len(f)} "
                          "fake); use more samples or a smaller k")
    return torch.as_tensor(r), torch.as_tensor(f)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3, strict_radius: bool = False
                     ) -> tuple[float, float]:
    """Improved precision and recall; ``strict_radius`` uses open balls (d < r) as the prdc package does."""
    r, f = _pair(real, fake, k, "precision/recall")
    precision = (_inside(f, r, knn_radii(r, k), strict_radius) > 0).double().mean().item()
    recall = (_inside(r, f, knn_radii(f, k), strict_radius) > 0).double().mean().item()
    return precision, recall


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5, strict_radius: bool = False
                     ) -> tuple[float, float]:
    """Density and coverage; ``strict_radius`` uses open balls (d < r) as the prdc package does."""
    r, f = _pair(real, fake, k, "density/coverage")
    radii = knn_radii(r, k)
    density = _inside(f, r, radii, strict_radius).double().sum().item() / (k * len(f))
    nearest = torch.cat([_dists(r[i:i + 2048], f).argmin(1) for i in range(0, len(r), 2048)])
    nearest_fake = _exact(r, f[nearest])
    coverage = ((nearest_fake < radii) if strict_radius else (nearest_fake <= radii)).double().mean().item()
    return density, coverage
