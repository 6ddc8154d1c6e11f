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
    for x, y, same in ((a, a, True), (a, a2, False)):  # the same set; two samples of one distribution
        mean, std = kid(x, y, subsets=20, same_set=same)
        assert abs(mean) < 0.05 * diff and abs(mean) < 2 * std / np.sqrt(20) + 0.01, (mean, std, diff)


def _prdc_brute(real, fake, k, le=np.less_equal):
    """Naeem et al. 2020, Sec. 3 / Kynkäänniemi et al. 2019, Eq. 1-2, with scipy's cdist.
    ``le=np.less`` is the prdc package's open-ball version (prdc/prdc.py: ``distance < radii``)."""
    from scipy.spatial.distance import cdist
    rr, ff, rf = cdist(real, real), cdist(fake, fake), cdist(real, fake)
    r_rad = np.sort(rr, axis=1)[:, k]  # column 0 is the point itself
    f_rad = np.sort(ff, axis=1)[:, k]
    precision = le(rf, r_rad[:, None]).any(0).mean()
    recall = le(rf, f_rad[None, :]).any(1).mean()
    density = le(rf, r_rad[:, None]).sum(0).mean() / k
    coverage = le(rf.min(1), r_rad).mean()
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
    assert inception_score(confident_uniform, splits=10, shuffle=False)[0] == pytest.approx(10, rel=1e-6)
    assert inception_score(one_class, splits=10)[0] == pytest.approx(1, rel=1e-6)


def test_mode_histogram_hand_case():
    pred = np.array([0] * 50 + [1] * 30 + [2] * 20)
    h = mode_histogram(pred, 10)
    p = np.array([0.5, 0.3, 0.2])
    assert h["counts"][:3] == [50, 30, 20] and sum(h["counts"][3:]) == 0
    assert h["kl_to_uniform"] == pytest.approx(float((p * np.log(p * 10)).sum()))
    assert h["entropy"] == pytest.approx(float(-(p * np.log(p)).sum()))
    assert h["classes_covered"] == 3 and h["max_entropy"] == pytest.approx(math.log(10))


# -- issue 21: explicit conventions, checked against peers or by hand ---------------------------------
def test_kid_same_set_is_explicit_not_guessed_from_memory():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3000, 8))
    x, y = a[:2000], a[1000:]  # overlapping views of one array: two different sets
    assert np.shares_memory(x, y)
    assert kid(x, y, subsets=5) == kid(x.copy(), y.copy(), subsets=5)
    far = a[:1000] + 5.0
    assert kid(a[:1000], far, subsets=5, same_set=True) == kid(a[:1000], a[:1000], subsets=5, same_set=True)
    assert kid(a[:1000], far, subsets=5)[0] > 1.0


@pytest.mark.parametrize("fn", [lambda r, f: gaussian_stats(f), lambda r, f: kid(r, f, subsets=2),
                                lambda r, f: precision_recall(r, f), lambda r, f: density_coverage(r, f)])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features_are_a_clear_error(fn, bad):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    fake[7, 3] = bad
    with pytest.raises(GenzooError, match="1 of 300 .*NaN or Inf.*genzoo diagnose"):
        fn(real, fake)


def test_inception_score_shuffles_before_splitting():
    sorted_probs = np.eye(10)[np.repeat(np.arange(10), 100)]  # class-sorted: each split would see one class
    assert inception_score(sorted_probs, shuffle=False)[0] == pytest.approx(1.0)
    mean, _ = inception_score(sorted_probs)  # torch-fidelity's default: shuffled, seeded
    assert mean > 9.0 and inception_score(sorted_probs) == inception_score(sorted_probs, seed=0)


def test_inception_score_ddof_by_hand():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(5) * 0.3, size=400)
    parts = np.array_split(probs, 4)
    scores = [math.exp((p * (np.log(p + 1e-12) - np.log(p.mean(0) + 1e-12))).sum(1).mean()) for p in parts]
    m0, s0 = inception_score(probs, splits=4, shuffle=False)
    m1, s1 = inception_score(probs, splits=4, shuffle=False, ddof=1)  # torchmetrics' std
    assert (m0, s0, s1) == pytest.approx((np.mean(scores), np.std(scores), np.std(scores, ddof=1)))


def test_prdc_strict_radius_matches_open_balls_on_duplicates():
    rng = np.random.default_rng(2)
    real = np.repeat(rng.normal(size=(60, 4)), 2, axis=0)  # duplicated real samples: k=1 radii of 0
    fake = np.concatenate([real[:40], rng.normal(size=(80, 4))])  # some memorised copies
    closed, open_ = _prdc_brute(real, fake, 1), _prdc_brute(real, fake, 1, np.less)
    assert closed[0] != open_[0]  # the convention matters here
    assert precision_recall(real, fake, k=1) == pytest.approx(closed[:2])
    assert precision_recall(real, fake, k=1, strict_radius=True) == pytest.approx(open_[:2])
    assert density_coverage(real, fake, k=1, strict_radius=True) == pytest.approx(open_[2:])
    assert density_coverage(real, fake, k=1) == pytest.approx(closed[2:])


def test_ssim_is_the_mean_over_valid_windows_like_scikit_image():
    """scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=1): scipy's gaussian_filter (truncate 3.5: an 11x11 window) over the image, then the border of
    (11 - 1) / 2 = 5 pixels cropped before the mean, i.e. the valid windows only."""
    from scipy.ndimage import gaussian_filter
    from genzoo.metrics.paired import psnr, ssim
    rng = np.random.default_rng(0)
    x = rng.random((28, 28))
    y = np.clip(x + 0.2 * rng.normal(size=x.shape), 0, 1)
    f = lambda t: gaussian_filter(t, 1.5, truncate=3.5)  # noqa: E731
    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    want = smap[5:-5, 5:-5].mean()
    got = ssim(torch.tensor(x)[None, None], torch.tensor(y)[None, None]).item()
    assert got == pytest.approx(want, rel=1e-5)
    assert abs(smap.mean() - want) > 1e-3  # averaging the padded whole map (torchmetrics) differs
    # PSNR: peak 1, identical images capped at 100 dB by the 1e-10 floor on the MSE
    t = torch.rand(1, 1, 8, 8)
    assert psnr(t, t).item() == pytest.approx(100.0)
    assert psnr(t, (t + 0.05)).item() == pytest.approx(10 * math.log10(1 / 0.0025), abs=1e-3)
