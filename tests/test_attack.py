"""Attacks, corruptions and robust training (genzoo.attack): hand-checked steps, invariants, one-line errors."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from genzoo.attack import fgsm, pgd
from genzoo.attack.corruptions import NAMES, corrupt
from genzoo.cli import main


def linear(d=6, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    m = nn.Linear(d, k)
    with torch.no_grad():
        m.weight.copy_(torch.randn(k, d, generator=g))
        m.bias.copy_(torch.randn(k, generator=g))
    return m


def test_fgsm_on_a_linear_model_is_the_hand_computed_step(seed):
    torch.manual_seed(seed(0))
    m = linear()
    x, y, eps = torch.rand(5, 6) * 0.6 + 0.2, torch.tensor([0, 1, 2, 0, 1]), 0.1
    # d CE / dx for logits Wx + b: W^T (softmax - onehot)
    p = F.softmax(x @ m.weight.T + m.bias, 1) - F.one_hot(y, 3).float()
    expected = (x + eps * (p @ m.weight).detach().sign()).clamp(0, 1)
    torch.testing.assert_close(fgsm(m, x, y, eps), expected)
    # targeted: a step down the target's loss
    t = 2
    pt = F.softmax(x @ m.weight.T + m.bias, 1) - F.one_hot(torch.full_like(y, t), 3).float()
    torch.testing.assert_close(fgsm(m, x, y, eps, target=t), (x - eps * (pt @ m.weight).detach().sign()).clamp(0, 1))


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_stays_in_the_ball_and_the_box_after_every_step(norm, seed):
    torch.manual_seed(seed(1))
    m = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y, eps = torch.rand(10, 1, 4, 4), torch.randint(0, 3, (10,)), 0.2 if norm == "linf" else 0.5
    seen = []

    def check(t, xa):
        d = (xa - x).flatten(1)
        size = d.abs().amax(1) if norm == "linf" else d.norm(dim=1)
        assert (size <= eps + 1e-6).all() and xa.min() >= 0 and xa.max() <= 1
        seen.append(t)

    out = pgd(m, x, y, eps, steps=7, step_size=0.05 if norm == "linf" else 0.2, norm=norm, restarts=2,
              seed=seed(2), callback=check)
    assert seen == list(range(7)) * 2
    check(0, out)


def test_pgd_never_lowers_the_loss_of_a_linear_binary_model(seed):
    # logits (0, w.x + b): each signed step moves every pixel towards a higher loss, and the box keeps it there
    torch.manual_seed(seed(3))
    lin = nn.Linear(20, 1)
    m = lambda x: torch.cat([torch.zeros(len(x), 1), lin(x)], 1)  # noqa: E731
    x, y = torch.rand(16, 20), torch.randint(0, 2, (16,))
    losses = []
    pgd(m, x, y, 0.15, steps=12, step_size=0.02, random_start=False,
        callback=lambda t, xa: losses.append(F.cross_entropy(m(xa), y, reduction="none").detach()))
    losses = torch.stack([F.cross_entropy(m(x), y, reduction="none")] + losses)  # (steps + 1, B)
    assert (losses[1:] >= losses[:-1] - 1e-6).all()
    assert (losses[-1] > losses[0]).all()


@pytest.mark.parametrize("name", NAMES)
def test_each_corruption_is_seeded_keeps_shape_and_range_and_changes_the_image(name):
    from genzoo.data import load_dataset
    x = load_dataset("embedded", "test").x[:6]
    a, b = corrupt(x, name, seed=3), corrupt(x, name, seed=3)
    assert a.dtype == torch.uint8 and a.shape == x.shape
    assert torch.equal(a, b)
    assert (a != x).flatten(1).any(1).all()


@pytest.mark.parametrize("argv, says", [
    (["attack", "lenet-mnist", "--eps", "-0.1"], "outside [0, 1]"),
    (["attack", "lenet-mnist", "--eps", "1.5"], "outside [0, 1]"),
    (["attack", "lenet-mnist", "--method", "cw"], "unknown attack method"),
    (["attack", "no/such/weights.safetensors"], "no such classifier"),
    (["attack", "lenet-nothing"], "no evaluation classifier"),
    (["attack", "lenet-mnist", "--method", "advgan"], "needs --generator"),
    (["attack", "lenet-mnist", "--method", "advgan", "--generator", "no/such/run"], "no/such/run"),
    (["attack", "lenet-mnist", "--dataset", "fashion-mnist"], "trained on mnist"),
    (["robustness", "lenet-mnist", "--corruptions", "frost"], "unknown corruption"),
])
def test_bad_input_is_one_line_and_exit_2(argv, says, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("genzoo: error:") and says in err, err


def test_attack_cli_writes_stamped_json_and_figures(tmp_path, capsys):
    import json
    assert main(["attack", "lenet-mnist", "--dataset", "embedded", "--method", "pgd", "--eps", "0,0.3", "--n", "40",
                 "--steps", "5", "--step-size", "0.1", "--out", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "attack.json").read_text())
    assert r["n"] == 40 and r["classifier"] == "lenet-mnist" and r["split"] == "test" and "genzoo_version" in r
    assert r["eps"]["0"]["accuracy"] == r["clean_accuracy"] and r["eps"]["0"]["mean_linf"] == 0
    assert r["eps"]["0.3"]["accuracy"] < r["clean_accuracy"] and r["eps"]["0.3"]["mean_linf"] <= 0.3 + 1e-6
    assert (tmp_path / "attack.png").stat().st_size > 0 and (tmp_path / "attack_eps.png").stat().st_size > 0


ADV_TINY = ["data.dataset=embedded", "model.g_width=4", "model.d_width=8", "train.batch_size=16",
            "train.precision=fp32", "train.sample_every=4", "train.ckpt_every=2", "train.keep_ckpts=0"]


def _advgan_cfg(steps):
    from genzoo.config_files import load_recipe
    cfg = load_recipe("advgan")
    cfg.apply_overrides(ADV_TINY)
    cfg.set("train.steps", steps)
    return cfg


def test_advgan_trains_resumes_exactly_and_attacks(tmp_path):
    from safetensors.torch import load_file
    from genzoo.training import checkpoint
    from genzoo.training.loop import train

    def final(run):
        return load_file(str(checkpoint.latest(run / "checkpoints").with_suffix(".safetensors")))

    train(_advgan_cfg(4), tmp_path / "straight", progress=False)
    train(_advgan_cfg(2), tmp_path / "split", progress=False)
    train(_advgan_cfg(4), tmp_path / "split", resume=True, progress=False)
    a, b = final(tmp_path / "straight"), final(tmp_path / "split")
    assert a.keys() == b.keys() and any(k.startswith("algo.nets") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    from genzoo.attack import attack_classifier
    r = attack_classifier("lenet-mnist", "embedded", "advgan", [0.3], n=32, generator_run=tmp_path / "straight")
    assert r["eps"]["0.3"]["mean_linf"] <= 0.3 + 1e-6 and 0 <= r["eps"]["0.3"]["success_rate"] <= 1


def test_advgan_generator_against_another_dataset_is_one_line(tmp_path, capsys):
    from genzoo.training.loop import train
    train(_advgan_cfg(1), tmp_path / "g", progress=False)
    assert main(["attack", "lenet-fashion-mnist", "--method", "advgan", "--generator", str(tmp_path / "g")]) == 2
    assert "trained against embedded" in capsys.readouterr().err


@pytest.mark.parametrize("key", ["optim.lr_half_life", "optim.lr_drop_at"])
def test_advgan_refuses_a_learning_rate_schedule(key, tmp_path, capsys):
    assert main(["train", "advgan", "--set", f"{key}=100", "--quiet", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "advgan keeps its learning rates constant" in err, err


def _two_feature_problem(n, gen):
    """x1: robust but noisy (means 0.3 / 0.7, std 0.1); x2..x9: predictive but only 0.1 apart (std 0.02), so an
    ε = 0.1 attacker can flip them all. Standard training leans on them; adversarial training must use x1."""
    y = torch.randint(0, 2, (n,), generator=gen)
    x1 = 0.3 + 0.4 * y + 0.1 * torch.randn(n, generator=gen)
    x2 = 0.45 + 0.1 * y[:, None] + 0.02 * torch.randn(n, 8, generator=gen)  # (n, 8)
    return torch.cat([x1[:, None], x2], 1).clamp(0, 1), y


@pytest.mark.parametrize("k", [0, 1, 2])
def test_adversarial_training_raises_robust_accuracy_on_a_small_problem(k, seed):
    from genzoo.attack.training import fgsm_rs

    gen = torch.Generator().manual_seed(seed(10 + k))
    x, y = _two_feature_problem(2000, gen)
    xt, yt = _two_feature_problem(1000, gen)
    eps, acc = 0.1, {}
    for adv in (False, True):
        torch.manual_seed(seed(20 + k))
        m = nn.Sequential(nn.Linear(9, 32), nn.ReLU(), nn.Linear(32, 2))
        opt = torch.optim.Adam(m.parameters(), lr=1e-2)
        for _ in range(1000):
            idx = torch.randint(0, len(x), (128,), generator=gen)
            xb, yb = x[idx], y[idx]
            if adv:
                xb = fgsm_rs(m, xb, yb, eps, gen=gen)
            loss = F.cross_entropy(m(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        xa = pgd(m, xt, yt, eps, steps=20, step_size=0.01, seed=seed(k))
        acc[adv] = (m(xa).argmax(1) == yt).float().mean().item()
    # measured with 1,000 steps, k = 2, seed offsets 0-9: 0.83-0.86 vs 0.07-0.23 (300 steps left the standard
    # model half-trained, 0.56-0.67 under attack, and the 0.2 gap failed on some offsets)
    assert acc[True] > 0.75 and acc[True] > acc[False] + 0.2, acc
