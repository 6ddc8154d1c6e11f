"""Golden values, worked by hand from the formulas in the papers."""
import math

import pytest
import torch

from genzoo.losses import GAN_LOSSES, gradient_penalty
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
