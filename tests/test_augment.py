"""Random affine augmentation and the GAN's consistency regularisation (CR-GAN), against hand computations."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from genzoo.data.augment import random_affine
from genzoo.training.build import build_algo
from genzoo.config_files import load_recipe
from genzoo.errors import GenzooError


def _bar(n=4, size=28):
    """A horizontal bar through the centre of a -1 background."""
    x = -torch.ones(n, 1, size, size)
    x[:, :, size // 2 - 1:size // 2 + 1, 6:size - 6] = 1.0
    return x


def test_identity_and_whole_pixel_shifts():
    x = torch.randn(3, 2, 12, 12)
    assert torch.allclose(random_affine(x), x, atol=1e-5)
    y = random_affine(x, shift=3, generator=torch.Generator().manual_seed(0))
    for i in range(3):  # each output is x moved by whole pixels: the interior equals some roll of x
        best = min((y[i, :, 3:-3, 3:-3] - torch.roll(x[i], (dy, dx), (1, 2))[:, 3:-3, 3:-3]).abs().max().item()
                   for dy in range(-3, 4) for dx in range(-3, 4))
        assert best < 1e-5


def test_flip_mirrors_about_half_the_images():
    x = torch.randn(200, 1, 8, 8)
    y = random_affine(x, flip=True, generator=torch.Generator().manual_seed(1))
    same = (y - x).flatten(1).abs().amax(1) < 1e-5
    mirrored = (y - x.flip(-1)).flatten(1).abs().amax(1) < 1e-5
    assert bool((same ^ mirrored).all()) and 70 < mirrored.sum().item() < 130


def _orientation(img):
    """Angle in degrees of the principal axis of the bright pixels (image moments)."""
    w = (img[0] + 1).clamp_min(0)
    ys, xs = torch.meshgrid(torch.arange(w.shape[0]).float(), torch.arange(w.shape[1]).float(), indexing="ij")
    m = w.sum()
    cx, cy = (w * xs).sum() / m, (w * ys).sum() / m
    mu20, mu02 = (w * (xs - cx) ** 2).sum() / m, (w * (ys - cy) ** 2).sum() / m
    mu11 = (w * (xs - cx) * (ys - cy)).sum() / m
    return math.degrees(0.5 * math.atan2(2 * mu11.item(), (mu20 - mu02).item()))


def test_rotation_stays_within_its_bound_and_uses_it():
    y = random_affine(_bar(64), rotate=20.0, generator=torch.Generator().manual_seed(2))
    angles = [abs(_orientation(y[i])) for i in range(64)]
    assert max(angles) < 21 and max(angles) > 15 and min(angles) < 3


def test_zoom_scales_the_bright_area_within_bounds():
    y = random_affine(_bar(64), scale=0.2, generator=torch.Generator().manual_seed(3))
    area = ((y + 1) / 2).sum((1, 2, 3))   # the 2 x 16 bar covers 32 px; a zoom by s covers 32 s^2
    assert area.min() >= 32 * 0.8 ** 2 - 2 and area.max() <= 32 * 1.2 ** 2 + 2 and area.max() - area.min() > 10


class _InfoD(nn.Module):
    """A stand-in for D with InfoGAN's Q: a logit and 12 Q outputs, linear in the image."""
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(28 * 28, 13)

    def scores(self, x, y):
        h = self.lin(x.flatten(1))
        return h[:, 0], h[:, 1:]


def test_consistency_term_is_the_hand_mse_plus_kl():
    cfg = load_recipe("infogan")
    cfg.set("loss.consistency", 10.0)
    cfg.set("train.precision", "fp32")
    algo = build_algo(cfg, (1, 28, 28), torch.device("cpu"))
    algo.D = _InfoD()
    torch.manual_seed(4)
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    r, r_aux = algo.D.scores(real, None)
    torch.manual_seed(5)
    cr = algo._consistency(real, r, r_aux, None)
    torch.manual_seed(5)
    t, t_aux = algo.D.scores(random_affine(real, shift=2, rotate=15.0, scale=0.1), None)
    p, q = F.softmax(r_aux[:, :10], 1), F.softmax(t_aux[:, :10], 1)
    hand = ((t - r) ** 2).mean() + (p * (p.log() - q.log())).sum(1).mean()
    assert cr.item() == pytest.approx(hand.item(), rel=1e-5)
    # the continuous codes (Q outputs 10, 11) do not enter: changing them leaves the term unchanged
    torch.manual_seed(5)
    assert algo._consistency(real, r, r_aux + torch.tensor([0.0] * 10 + [5.0, -5.0]), None).item() == \
        pytest.approx(cr.item(), rel=1e-6)


def test_consistency_is_zero_for_a_d_that_ignores_position():
    """A D that only counts bright pixels cannot tell a digit from its shifted copy: the term vanishes."""
    cfg = load_recipe("dcgan")
    cfg.set("loss.consistency", 1.0)
    cfg.set("train.precision", "fp32")
    cfg.set("loss.consistency_rotate", 0.0)
    cfg.set("loss.consistency_scale", 0.0)
    algo = build_algo(cfg, (1, 28, 28), torch.device("cpu"))
    algo.D = lambda x: x.sum((1, 2, 3))
    real = _bar(8)
    torch.manual_seed(0)
    assert algo._consistency(real, algo.D(real), None, None).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("cond", ["none", "concat", "projection", "acgan", "info"])
def test_consistency_trains_with_every_conditioning(cond):
    cfg = load_recipe("dcgan")
    for k, v in (("model.g_width", 8), ("model.d_width", 8), ("model.cond", cond), ("loss.consistency", 5.0)):
        cfg.set(k, v)
    algo = build_algo(cfg, (1, 28, 28), torch.device("cpu"))
    batch = {"x": _bar(8), "y": torch.arange(8) % 10}
    out = {**algo.d_step(batch), **algo.g_step(batch)}
    assert out["consistency"] > 0 and math.isfinite(out["loss_d"]) and math.isfinite(out["loss_g"])


def test_consistency_settings_are_checked():
    cfg = load_recipe("infogan-cr")
    assert cfg.loss.consistency > 0
    with pytest.raises(GenzooError, match=r"loss.consistency_scale must be a finite number in \[0, 1\), got 1.5"):
        cfg.set("loss.consistency_scale", 1.5)
    cfg.loss.consistency_shift = -1  # assigned directly: build_algo checks again
    with pytest.raises(GenzooError, match="loss.consistency_shift must be >= 0"):
        build_algo(cfg, (1, 28, 28), torch.device("cpu"))
