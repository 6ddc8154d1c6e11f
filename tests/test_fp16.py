"""fp16 training: one gradient scaler per optimizer, skipped steps on overflow, the scaler in the checkpoint.

fp16 autocast is what CUDA GPUs without bf16 train in; the CPU runs the same code (slowly), so the mechanism
is tested here with hand-worked numbers: a gradient that overflows half precision at the scaler's factor skips
the step and halves the factor, a finite one is unscaled before the step and before the probe reads it.
"""
import json
import math

import pytest
import torch
import torch.nn as nn

from genzoo.algos.base import Algo
from genzoo.losses.penalties import gradient_penalty
from genzoo.training import checkpoint
from test_train import _cfg, _final_tensors
from genzoo.training.loop import train


class OneLinear(Algo):
    """w -> loss = sum(x @ w): the gradient of w is x summed over the batch, whatever w is."""

    def __init__(self, precision: str):
        super().__init__(torch.device("cpu"), precision)
        self.net = nn.Linear(3, 1, bias=False)
        with torch.no_grad():
            self.net.weight.copy_(torch.tensor([[0.5, -1.0, 2.0]]))
        self.nets, self.opts = {"net": self.net}, {"net": torch.optim.SGD(self.net.parameters(), lr=0.1)}

    def loss(self, x):
        with self.autocast():
            return self.net(x).float().sum()


def test_scaler_skips_overflowing_steps_then_steps_unscaled():
    x = torch.tensor([[1.0, 2.0, 3.0]])  # gradient (1, 2, 3); times 65536 or 32768 it passes fp16's 65504
    w0 = torch.tensor([[0.5, -1.0, 2.0]])
    algo = OneLinear("fp16")
    norms = [algo.optimize("net", algo.loss(x), probe=algo.net) for _ in range(3)]
    assert math.isinf(norms[0]) and math.isinf(norms[1])           # 65536 x 3 and 32768 x 3 overflow: skipped
    assert norms[2] == pytest.approx(math.sqrt(14), rel=1e-6)      # 16384 x 3 fits; the probe sees it unscaled
    assert torch.equal(algo.net.weight.detach(), w0 - 0.1 * x)     # one step, of the true gradient
    state = algo.scaler("net").state_dict()
    assert state["scale"] == 16384.0 and state["_growth_tracker"] == 1
    fp32 = OneLinear("fp32")
    for _ in range(3):
        fp32.optimize("net", fp32.loss(x))
    assert torch.allclose(fp32.net.weight.detach(), w0 - 0.3 * x) and fp32.scaler("net") is None


def test_overflow_at_every_factor_is_reported_as_divergence_once_the_factor_is_below_1():
    """Skipped steps are expected while the scaler finds its factor; gradients that overflow even below a factor
    of 1 are divergence. From 2**16 the factor halves per skipped step: steps 1-16 are marked fp16_skipped (the
    loop then drops their inf losses), step 17 leaves it at 0.5 and is not, so its inf reaches the watchers."""
    algo = OneLinear("fp16")
    algo.step = lambda x: {"loss": algo.loss(x).item(), "norm": algo.optimize("net", algo.loss(x))}
    x = torch.tensor([[float("inf"), 1.0, 1.0]])
    marks = [algo.train_step(lambda: x).get("fp16_skipped") for _ in range(18)]
    assert marks[:16] == [1] * 16 and marks[16:] == [None, None]
    assert algo.scaler("net").get_scale() == 2.0 ** -2 and algo.fp16_skips == 18


def test_each_optimizer_has_its_own_scaler_in_the_state():
    algo = OneLinear("fp16")
    algo.opts["other"] = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    algo.optimize("net", algo.loss(torch.tensor([[1.0, 2.0, 3.0]])))  # overflows: only "net" backs off
    state = algo.state_dict()["scalers"]
    assert state["net"]["scale"] == 32768.0 and state["other"]["scale"] == 65536.0
    again = OneLinear("fp16")
    again.opts["other"] = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    again.load_state_dict(algo.state_dict())
    assert again.scaler("net").get_scale() == 32768.0
    assert "scalers" not in OneLinear("fp32").state_dict()
    OneLinear("fp32").load_state_dict(algo.state_dict())  # an fp16 checkpoint resumed in fp32: scalers unused


def test_gradient_penalty_scale_is_divided_back():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake, eps = torch.randn(5, 4), torch.randn(5, 4), torch.rand(5, 1)
    plain, n1 = gradient_penalty(critic, real, fake, eps=eps)
    scaled, n2 = gradient_penalty(critic, real, fake, eps=eps, scale=1024.0)
    assert torch.allclose(n1, n2, rtol=1e-6) and torch.allclose(plain, scaled, rtol=1e-6)


@pytest.mark.parametrize("recipe_extra", [[], ["loss.name=wgan-gp", "model.d_norm=layer", "train.n_critic=2"]],
                         ids=["nsgan", "wgan-gp"])
def test_fp16_training_resumes_exactly_with_its_scalers(tmp_path, seed, recipe_extra):
    fp16 = ["train.precision=fp16", *recipe_extra]
    train(_cfg(20, fp16, seed=seed(0)), tmp_path / "straight", progress=False)
    train(_cfg(10, fp16, seed=seed(0)), tmp_path / "split", progress=False)
    train(_cfg(20, fp16, seed=seed(0)), tmp_path / "split", resume=True, progress=False)
    a, b = _final_tensors(tmp_path / "straight"), _final_tensors(tmp_path / "split")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.isfinite(t).all() for k, t in a.items() if t.is_floating_point())
    doc = json.loads(checkpoint.latest(tmp_path / "split" / "checkpoints").read_text())
    scalers = doc["layout"]["algo"]["scalers"]
    assert set(scalers) == {"G", "D"} and all(0 < s["scale"] <= 65536.0 for s in scalers.values())
    if recipe_extra:  # the penalty's inner gradient overflows at the first factors: skipped, and not divergence
        assert scalers["D"]["scale"] < 65536.0


def test_auto_precision(monkeypatch):
    import genzoo.algos.base as base

    monkeypatch.delenv("GENZOO_PRECISION", raising=False)
    cuda, cpu = torch.device("cuda"), torch.device("cpu")  # only named here, never used
    monkeypatch.setattr(base, "bf16_supported", lambda device: False)
    assert base.resolve_precision("auto", cuda) == "fp16"           # a GPU before Ampere: fp16 with scalers
    assert base.resolve_precision("auto", cpu) == "fp32"            # a CPU without native bf16
    assert base.resolve_precision("auto", cuda, conv=False) == "fp32"  # toy MLPs stay in fp32
    monkeypatch.setattr(base, "bf16_supported", lambda device: True)
    assert base.resolve_precision("auto", cuda) == base.resolve_precision("auto", cpu) == "bf16"
    assert base.resolve_precision("fp16", cpu) == "fp16"
