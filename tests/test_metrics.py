"""Metric formulas against independent computations and published sanity values."""
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from genzoo.errors import GenzooError
from genzoo.metrics import (density_coverage, frechet_distance, gaussian_stats, inception_score, kid,
                            mmd2_unbiased, mode_histogram, precision_recall)


def _two_feature_sets(d=16, n=800, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.5
    b = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.5 + 0.3
    return a, b


def test_frechet_matches_scipy_sqrtm():
    a, b = _two_feature_sets()
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(*gaussian_stats(a), *gaussian_stats(b)) == pytest.approx(ref, rel=1e-4)


def test_frechet_of_known_gaussians():
    # N(0, I) vs N(m, 4I) in d dims: |m|^2 + d(1 + 4 - 2*2) = |m|^2 + d
    d = 5
    m = np.arange(d, dtype=float)
    assert frechet_distance(np.zeros(d), np.eye(d), m, 4 * np.eye(d)) == pytest.approx((m ** 2).sum() + d)


def test_frechet_matches_torchmetrics_with_same_features():
    tm = pytest.importorskip("torchmetrics.image.fid")

    class Feat(torch.nn.Module):  # uint8 (N, 1, 8, 8) -> 12-d features
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(64, 12, generator=torch.Generator().manual_seed(1)),
                                        requires_grad=False)

        def forward(self, x):
            return torch.tanh((x.float() / 127.5 - 1).flatten(1) @ self.w)

    feat = Feat()
    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (300, 1, 8, 8), generator=g, dtype=torch.uint8)
    fake = (real.float() * 0.7 + 40).clamp(0, 255).to(torch.uint8)
    fid = tm.FrechetInceptionDistance(feature=feat, input_img_size=(1, 8, 8))
    fid.update(real, real=True)
    fid.update(fake, real=False)
    theirs = fid.compute().item()
    with torch.no_grad():
        fr, ff = feat(real).double().numpy(), feat(fake).double().numpy()
    ours = frechet_distance(*gaussian_stats(fr), *gaussian_stats(ff))
    assert ours == pytest.approx(theirs, rel=1e-4)


def test_frechet_refuses_too_few_samples():
    with pytest.raises(GenzooError, match="more samples than feature dimensions"):
        gaussian_stats(np.zeros((10, 128)))


def test_mmd_matches_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(5, 3)) + 1

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(6) for j in range(6) if i != j) / 30
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / 20
    xy = sum(k(x[i], y[j]) for i in range(6) for j in range(5)) / 30
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy)


def test_kid_of_set_with_itself_is_about_zero():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(16, 16))
    a, a2 = rng.normal(size=(3000, 16)) @ m * 0.5, rng.normal(size=(3000, 16)) @ m * 0.5
    b = rng.normal(size=(3000, 16)) @ m * 0.5 + 0.3
    diff, _ = kid(a, b, subsets=20)
    for x, y in ((a, a), (a, a2)):  # the same set; two samples of one distribution
        mean, std = kid(x, y, subsets=20)
        assert abs(mean) < 0.05 * diff and abs(mean) < 2 * std / np.sqrt(20) + 0.01, (mean, std, diff)


def _prdc_brute(real, fake, k):
    """Naeem et al. 2020, Sec. 3 / Kynkäänniemi et al. 2019, Eq. 1-2, with scipy's cdist."""
    from scipy.spatial.distance import cdist
    rr, ff, rf = cdist(real, real), cdist(fake, fake), cdist(real, fake)
    r_rad = np.sort(rr, axis=1)[:, k]  # column 0 is the point itself
    f_rad = np.sort(ff, axis=1)[:, k]
    precision = (rf <= r_rad[:, None]).any(0).mean()
    recall = (rf <= f_rad[None, :]).any(1).mean()
    density = (rf <= r_rad[:, None]).sum(0).mean() / k
    coverage = (rf.min(1) <= r_rad).mean()
    return precision, recall, density, coverage


def test_prdc_matches_brute_force():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(700, 10)), rng.normal(size=(600, 10)) * 1.2 + 0.2
    p, r = precision_recall(real, fake, k=3)
    want = _prdc_brute(real, fake, 3)
    assert (p, r) == pytest.approx(want[:2])
    d, c = density_coverage(real, fake, k=5)
    assert (d, c) == pytest.approx(_prdc_brute(real, fake, 5)[2:])


def test_density_coverage_on_identical_gaussians():
    # Naeem et al. 2020, Sec. 4: for P = Q, E[density] = 1 and E[coverage] = 1 - 2^-k (0.969 for k = 5)
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(5000, 16)), rng.normal(size=(5000, 16))
    d, c = density_coverage(real, fake, k=5)
    assert c == pytest.approx(1 - 2 ** -5, abs=0.015)
    assert d == pytest.approx(1.0, abs=0.06)
    p, r = precision_recall(real, fake, k=3)
    assert p == pytest.approx(r, abs=0.03)


def test_precision_recall_see_a_collapse():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(2000, 8))
    collapsed = real[:50].repeat(40, 0) + 0.01 * rng.normal(size=(2000, 8))  # 50 modes only
    p, r = precision_recall(real, collapsed, k=3)
    assert p > 0.9 and r < 0.3


def test_inception_score_extremes():
    confident_uniform = np.eye(10)[np.arange(1000) % 10]
    one_class = np.eye(10)[np.zeros(1000, int)]
    assert inception_score(confident_uniform, splits=10)[0] == pytest.approx(10, rel=1e-6)
    assert inception_score(one_class, splits=10)[0] == pytest.approx(1, rel=1e-6)


def test_mode_histogram_hand_case():
    pred = np.array([0] * 50 + [1] * 30 + [2] * 20)
    h = mode_histogram(pred, 10)
    p = np.array([0.5, 0.3, 0.2])
    assert h["counts"][:3] == [50, 30, 20] and sum(h["counts"][3:]) == 0
    assert h["kl_to_uniform"] == pytest.approx(float((p * np.log(p * 10)).sum()))
    assert h["entropy"] == pytest.approx(float(-(p * np.log(p)).sum()))
    assert h["classes_covered"] == 3 and h["max_entropy"] == pytest.approx(math.log(10))
