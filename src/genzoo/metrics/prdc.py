"""k-NN manifold metrics on features.

Improved precision and recall (Kynkäänniemi et al. 2019, k=3): a sample is inside a set's
manifold when it lies within the k-NN radius of some point of that set.
Density and coverage (Naeem et al. 2020, k=5): density counts how many real k-NN balls contain
each fake sample (divided by k); coverage is the fraction of real balls that contain a fake sample.
"""
from __future__ import annotations

import numpy as np
import torch


def _dists(a: torch.Tensor, b: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    return torch.cat([torch.cdist(a[i:i + chunk], b) for i in range(0, len(a), chunk)])  # (len(a), len(b))


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour in the same set (itself excluded)."""
    out = []
    for i in range(0, len(x), 2048):
        d = torch.cdist(x[i:i + 2048], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # the 1st "neighbour" is the point itself
    return torch.cat(out)


def _inside(query: torch.Tensor, ref: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Count, for each query point, the reference balls containing it. (Nq,)"""
    counts = []
    for i in range(0, len(query), 2048):
        d = torch.cdist(query[i:i + 2048], ref)  # (chunk, Nr)
        counts.append((d <= radii[None]).sum(1))
    return torch.cat(counts)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    r, f = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    precision = (_inside(f, r, knn_radii(r, k)) > 0).double().mean().item()
    recall = (_inside(r, f, knn_radii(f, k)) > 0).double().mean().item()
    return precision, recall


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    r, f = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    radii = knn_radii(r, k)
    density = _inside(f, r, radii).double().sum().item() / (k * len(f))
    nearest_fake = torch.cat([_dists(r[i:i + 2048], f).min(1).values for i in range(0, len(r), 2048)])
    coverage = (nearest_fake <= radii).double().mean().item()
    return density, coverage
