"""Golden values, worked by hand from the formulas in the papers."""
import math
from types import SimpleNamespace

import pytest
import torch

from genzoo.losses import GAN_LOSSES, GANObjective, acgan_ce, consistency, gradient_penalty, info_terms
from genzoo.losses.gan import hinge_d, hinge_g, log_d, lsgan_d, lsgan_g, minimax_g, nsgan_g, wgan_d, wgan_g

r = torch.tensor([2.0, 0.0])   # D logits on real
f = torch.tensor([-1.0, 0.0])  # D logits on fake


def sp(t):  # softplus by hand
    return math.log1p(math.exp(t))


def test_log_d():
    # -mean(log sigma(r)) - mean(log(1 - sigma(f))) = mean(softplus(-r)) + mean(softplus(f))
    want = (sp(-2) + sp(0)) / 2 + (sp(-1) + sp(0)) / 2
    assert log_d(r, f).item() == pytest.approx(want, rel=1e-6)
    assert log_d(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2 * math.log(2))


def test_log_d_smoothing_target():
    # target 0.9 on r=0: -(0.9 log .5 + .1 log .5) = log 2, independent of the target
    assert log_d(torch.zeros(1), torch.full((1,), -50.0), real_target=0.9).item() == pytest.approx(math.log(2), abs=1e-6)
    # on r=2: 0.9*softplus(-2) + 0.1*softplus(2)
    want = 0.9 * sp(-2) + 0.1 * sp(2)
    assert log_d(torch.tensor([2.0]), torch.tensor([-50.0]), real_target=0.9).item() == pytest.approx(want, rel=1e-5)


def test_minimax_and_nsgan_g():
    # minimax: mean(log(1 - sigma(f))) = -mean(softplus(f))
    assert minimax_g(f).item() == pytest.approx(-(sp(-1) + sp(0)) / 2, rel=1e-6)
    # non-saturating: -mean(log sigma(f)) = mean(softplus(-f))
    assert nsgan_g(f).item() == pytest.approx((sp(1) + sp(0)) / 2, rel=1e-6)


def test_lsgan_default_and_variant():
    # a=0, b=1: 0.5*(mean((r-1)^2) + mean(f^2)) = 0.5*((1+1)/2 + (1+0)/2) = 0.75
    assert lsgan_d(r, f).item() == pytest.approx(0.75)
    assert lsgan_g(f).item() == pytest.approx(0.5 * ((4 + 1) / 2))  # c=1
    # a=-1, b=1, c=0 (Mao et al.): 0.5*(1 + mean((f+1)^2)) = 0.5*(1 + (0+1)/2) = 0.75; g: 0.5*mean(f^2) = 0.25
    assert lsgan_d(r, f, a=-1.0, b=1.0).item() == pytest.approx(0.75)
    assert lsgan_g(f, c=0.0).item() == pytest.approx(0.25)


def test_wgan_and_hinge():
    assert wgan_d(r, f).item() == pytest.approx(-0.5 - 1.0)  # mean f - mean r
    assert wgan_g(f).item() == pytest.approx(0.5)
    # hinge d: mean(relu(1-r)) + mean(relu(1+f)) = (0+1)/2 + (0+1)/2
    assert hinge_d(r, f).item() == pytest.approx(1.0)
    assert hinge_g(f).item() == pytest.approx(0.5)


def test_registry_complete():
    assert set(GAN_LOSSES) == {"minimax", "nsgan", "lsgan", "wgan", "wgan-gp", "hinge"}


def test_gradient_penalty_on_linear_critic():
    # D(x) = w.x has gradient w everywhere: penalty = (|w| - 1)^2
    w = torch.tensor([3.0, 4.0])
    pen, norms = gradient_penalty(lambda x: x @ w, torch.randn(8, 2), torch.randn(8, 2))
    assert torch.allclose(norms, torch.full((8,), 5.0))
    assert pen.item() == pytest.approx(16.0)


# -- the registry rows and the bound objective -------------------------------------------------------
def test_rows_say_how_d_reads():
    assert [n for n, row in GAN_LOSSES.items() if row.probability] == ["minimax", "nsgan"]
    assert [n for n, row in GAN_LOSSES.items() if row.critic] == ["wgan", "wgan-gp"]
    assert GAN_LOSSES["nsgan"].readable(torch.tensor([0.0, math.log(3)])).tolist() == pytest.approx([0.5, 0.75])
    assert GAN_LOSSES["lsgan"].readable(torch.tensor([0.3])).item() == pytest.approx(0.3)  # its labels' scale
    assert [n for n, row in GAN_LOSSES.items() if row.saturating] == ["minimax"]


def test_objective_lsgan_labels_smoothing_and_flip():
    s = SimpleNamespace(lsgan_a=-1.0, lsgan_b=1.0, lsgan_c=0.0, label_smoothing=0.1, label_flip=0.0, clip=0.5)
    obj = GANObjective.create("lsgan", s)
    assert obj.labels == (1.0, -1.0) and obj.clip == 0.0  # clipping is WGAN's, not LSGAN's
    # real target b - s = 0.9: 0.5*(mean((r-0.9)^2) + mean((f+1)^2)) = 0.5*((1.21 + 0.81)/2 + (0 + 1)/2)
    assert obj.d_loss(r, f).item() == pytest.approx(0.755)
    assert obj.g_loss(f).item() == pytest.approx(0.25)  # c = 0: 0.5*mean(f^2) = 0.5*(1 + 0)/2
    flipped = GANObjective.create("lsgan", SimpleNamespace(**{**vars(s), "label_smoothing": 0.0, "label_flip": 1.0}))
    # every target swapped: real -> a = -1, fake -> b = 1: 0.5*((9 + 1)/2 + (4 + 1)/2)
    assert flipped.d_loss(r, f).item() == pytest.approx(3.75)


def test_objective_log_loss_smoothing_and_defaults():
    obj = GANObjective.create("nsgan", SimpleNamespace(label_smoothing=0.1, label_flip=0.0, lsgan_a=5.0))
    assert obj.d_kw == {"real_target": 1.0, "fake_target": 0.0}  # LSGAN's labels are not read
    # real target 0.9: 0.9*softplus(-r) + 0.1*softplus(r), averaged, plus softplus(f) averaged
    want = (0.9 * sp(-2) + 0.1 * sp(2) + math.log(2)) / 2 + (sp(-1) + sp(0)) / 2
    assert obj.d_loss(r, f).item() == pytest.approx(want, rel=1e-6)
    assert obj.g_loss(f).item() == pytest.approx((sp(1) + sp(0)) / 2, rel=1e-6)


def test_objective_thresholds_and_logged_outputs():
    ls = GANObjective.create("lsgan", SimpleNamespace(lsgan_a=0.0, lsgan_b=2.0, lsgan_c=2.0))
    assert ls.threshold(r, f) == 1.0  # the midpoint of its labels
    assert ls.accuracy(r, f) == {"acc_real": 0.5, "acc_fake": 1.0}  # r = (2, 0) > 1; f = (-1, 0) <= 1
    w = GANObjective.create("wgan", SimpleNamespace(clip=0.01, gp_weight=10.0))
    assert (w.clip, w.gp_weight) == (0.01, 0.0)
    assert w.threshold(r, f) == pytest.approx(0.25)  # (mean r + mean f)/2 = (1 - 0.5)/2
    assert w.d_scalars(r, f) == {"d_real": 1.0, "d_fake": -0.5, "wasserstein": 1.5}
    n = GANObjective.create("nsgan").d_scalars(torch.tensor([0.0]), torch.tensor([math.log(3)]))
    assert n == pytest.approx({"d_real": 0.5, "d_fake": 0.75})
    assert GANObjective.create("wgan-gp", SimpleNamespace(clip=0.01, gp_weight=10.0)).clip == 0.0
    assert GANObjective.create("hinge").threshold(r, f) == 0.0


# -- auxiliary terms ------------------------------------------------------------------------------
def test_acgan_cross_entropy():
    # softmax(0, ln 3) = (1/4, 3/4): -ln(3/4) on class 1; softmax(0, 0) on class 0: ln 2
    logits = torch.tensor([[0.0, math.log(3)], [0.0, 0.0]])
    assert acgan_ce(logits, torch.tensor([1, 0])).item() == pytest.approx((math.log(4 / 3) + math.log(2)) / 2)


def test_infogan_terms():
    # two categories then two continuous codes
    q = torch.tensor([[0.0, math.log(3), 0.5, -1.0], [math.log(3), 0.0, 0.0, 0.0]])
    code = torch.tensor([[0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 1.0, 1.0]])
    ce, gauss = info_terms(q, code, 2)
    assert ce.item() == pytest.approx((math.log(4 / 3) + math.log(4)) / 2)  # -ln(3/4), -ln(1/4)
    assert gauss.item() == pytest.approx((0.5 * (0.25 + 4.0) + 0.5 * (1.0 + 1.0)) / 2)


def test_consistency_term():
    rr, t = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0])
    assert consistency(rr, t).item() == pytest.approx((1 + 4) / 2)
    # heads: row 0 p = (1/2, 1/2) vs q = (1/4, 3/4): KL = 0.5 ln 2 + 0.5 ln(2/3) = 0.5 ln(4/3); row 1 equal: 0.
    # The third column is not categorical (n_cat = 2) and must not count.
    rh = torch.tensor([[0.0, 0.0, 9.0], [math.log(3), 0.0, 1.0]])
    th = torch.tensor([[0.0, math.log(3), -9.0], [math.log(3), 0.0, 5.0]])
    assert consistency(rr, t, rh, th, 2).item() == pytest.approx(2.5 + 0.5 * math.log(4 / 3) / 2)
    assert consistency(rr, t, rh, th, 0).item() == pytest.approx(2.5)
