"""Training diagnostics: each classic failure provoked on purpose must raise its alert, and
healthy runs must raise none (the false-positive check)."""
import json
import math

import numpy as np
import pytest
import torch

from genzoo.training import checkpoint
from genzoo.training.build import build_algo, dataset_for
from genzoo.cli import main
from genzoo.config import load_recipe
from genzoo.training.watch import ALERTS, Monitor, oscillation_score, read_log
from genzoo.errors import GenzooError
from genzoo.training.loop import train


def run(recipe, dataset, tmp_path, name="run", **overrides):
    cfg = load_recipe(recipe, dataset)
    for k, v in overrides.items():
        cfg.set(k, v)
    out = tmp_path / name
    train(cfg, out, progress=False)
    return out


def alerts_of(run_dir):
    rows, events = read_log(run_dir / "log.jsonl")
    return rows, [e for e in events if e["event"] == "alert"]


# -- the oscillation statistic and the alert rules on synthetic signals -------------------
def test_oscillation_score_separates_noise_trend_and_cycles():
    rng = np.random.default_rng(0)
    noise = rng.normal(1.0, 0.3, 600)
    trend = np.linspace(2.0, 0.5, 600) + rng.normal(0, 0.05, 600)
    cycle = 1.0 + 0.8 * np.sin(np.arange(600) * 2 * np.pi / 120) + rng.normal(0, 0.3, 600)
    s_noise, _, _ = oscillation_score(noise)
    _, t_trend, _ = oscillation_score(trend)
    s_cycle, t_cycle, _ = oscillation_score(cycle)
    assert s_noise < 2.5            # smoothed noise varies by ~1 of its own standard errors
    assert t_trend <= 1             # a monotone trend crosses its mean once
    # amplitude 0.8 over noise 0.3: smoothed std ~0.51 against 0.3 / sqrt(30) ~ 0.055, so ~9;
    # five periods cross the mean about nine times
    assert 7 < s_cycle < 12 and t_cycle >= 8


def _monitor(**watch):
    cfg = load_recipe("nsgan", "toy:ring8")
    cfg.set("data.toy_samples", 5000)
    for k, v in watch.items():
        cfg.set(f"watch.{k}", v)
    data = dataset_for(cfg)
    return Monitor(cfg, build_algo(cfg, data.sample_shape, torch.device("cpu")), data)


def test_oscillating_losses_alert_and_noisy_ones_do_not():
    rng = np.random.default_rng(1)
    fired = {}
    for kind in ("cycle", "noise"):
        mon = _monitor(diversity_every=0)
        names = []
        for step in range(1, 1501):
            wave = 0.6 * np.sin(step * 2 * np.pi / 120) if kind == "cycle" else 0.0
            s = {"loss_d": 1.2 + wave + rng.normal(0, 0.2), "loss_g": 0.8 - wave + rng.normal(0, 0.2),
                 "d_real": 0.6, "d_fake": 0.4}
            names += [a.name for a in mon.update(step, s)]
        fired[kind] = names
    assert fired["cycle"] == ["oscillation"]    # raised once, while the condition holds
    assert fired["noise"] == []


def test_divergence_fires_at_once_on_nan_or_exploding_loss():
    mon = _monitor()
    assert [a.name for a in mon.update(1, {"loss_d": float("nan"), "loss_g": 1.0})] == ["divergence"]
    a = mon.update(2, {"loss_d": 0.5, "loss_g": 5e4})[0]
    assert a.name == "divergence" and a.step == 2 and "5e+04" in a.evidence
    assert a.message.startswith("divergence at step 2: |loss_g| = 5e+04 > 1000; lower the learning rates")


def test_unknown_action_is_a_one_line_error(capsys):
    assert main(["train", "nsgan", "--dataset", "toy:ring8", "--set", "watch.mode_collapse=panic",
                 "--steps", "5", "--quiet", "--out", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown action 'panic'" in err and "warn, stop, rollback" in err


# -- provoked failures, detected ----------------------------------------------------------
def test_saturating_loss_with_strong_d_is_detected(tmp_path):
    """Minimax GAN, D 50x faster and 5 D steps per G step: D wins and G's gradient vanishes."""
    out = run("gan", "toy:ring8", tmp_path, **{"train.steps": 400, "optim.lr_d": 5e-3, "optim.lr_g": 1e-4,
                                              "train.n_critic": 5})
    rows, alerts = alerts_of(out)
    names = {a["alert"] for a in alerts}
    assert names & {"vanishing_g_gradient", "d_saturated"}
    first = min(a["step"] for a in alerts)
    probe = [r for r in rows if r["step"] == first][0]
    assert probe["d_fake"] < 0.01 and probe["acc_fake"] == 1.0   # the logged evidence agrees


def test_bad_learning_rate_on_grid25_is_mode_collapse(tmp_path):
    out = run("nsgan", "toy:grid25", tmp_path, **{"train.steps": 1000, "optim.lr_d": 0.01, "optim.lr_g": 0.01,
                                                 "optim.beta1": 0.9})
    rows, alerts = alerts_of(out)
    collapse = [a for a in alerts if a["alert"] == "mode_collapse"]
    assert collapse, alerts
    assert collapse[0]["step"] >= 500          # not before the warm-up
    # independent check: the final samples really cover few of the 25 modes
    from genzoo.evaluation.core import evaluate_run
    assert evaluate_run(out, n=2500)["metrics"]["modes_captured"] <= 10


def test_lr_1_diverges_and_stops_by_default(tmp_path, capsys):
    code = main(["train", "nsgan", "--dataset", "toy:ring8", "--set", "lr_g=1.0", "--set", "lr_d=1.0",
                 "--steps", "200", "--quiet", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "divergence at step" in err and "stopped at step" in err
    assert checkpoint.latest(tmp_path / "r" / "checkpoints") is None   # diverged weights are never saved


def test_lr_1_with_rollback_recovers_and_finishes(tmp_path):
    out = run("nsgan", "toy:ring8", tmp_path, **{"train.steps": 1000, "optim.lr_d": 1.0, "optim.lr_g": 1.0,
                                                "watch.divergence": "rollback", "train.ckpt_every": 100})
    rows, events = read_log(out / "log.jsonl")
    rollbacks = [e for e in events if e["event"] == "rollback"]
    assert 1 <= len(rollbacks) <= 5
    assert rollbacks[-1]["lr_g"] < 1.0 and rollbacks[-1]["lr_d"] < 1.0
    state, meta = checkpoint.load(checkpoint.latest(out / "checkpoints"))
    assert meta["step"] == 1000
    assert state["algo"]["opts"]["G"]["param_groups"][0]["lr"] == pytest.approx(rollbacks[-1]["lr_g"])
    tail = [r for r in rows if r["step"] > 500]
    assert tail and all(abs(r["loss_d"]) < 100 and abs(r["loss_g"]) < 100 for r in tail)
    steps = [r["step"] for r in rows]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)   # replaced steps were dropped from the log


def test_stop_action_saves_and_exits(tmp_path):
    with pytest.raises(GenzooError, match="stopped at step .* by alert mode_collapse"):
        run("nsgan", "toy:grid25", tmp_path, **{"train.steps": 1000, "optim.lr_d": 0.01, "optim.lr_g": 0.01,
                                               "optim.beta1": 0.9, "watch.mode_collapse": "stop"})
    ck = checkpoint.latest(tmp_path / "run" / "checkpoints")
    assert ck is not None and 500 <= checkpoint.load(ck)[1]["step"] < 1000


# -- the false-positive check --------------------------------------------------------------
def test_healthy_nsgan_on_ring8_raises_no_alert(tmp_path):
    out = run("nsgan", "toy:ring8", tmp_path)       # the recipe as shipped: 3000 steps
    rows, alerts = alerts_of(out)
    assert alerts == []
    last = rows[-1]
    assert last["step"] == 3000 and last["class_entropy"] > 0.9   # and it did watch: the signals are logged
    assert {"acc_real", "acc_fake", "grad_norm_g", "grad_norm_d", "diversity", "osc"} <= set().union(*rows)


def test_healthy_dcgan_on_embedded_mnist_raises_no_alert(tmp_path):
    out = run("dcgan", "embedded", tmp_path, **{"train.steps": 800})
    rows, alerts = alerts_of(out)
    assert alerts == []
    assert rows[-1]["class_entropy"] > 0.8 and rows[-1]["dup_fraction"] < 0.1


def test_diagnose_summarises_and_plots(tmp_path, capsys):
    out = run("gan", "toy:ring8", tmp_path, **{"train.steps": 300, "optim.lr_d": 5e-3, "optim.lr_g": 1e-4,
                                              "train.n_critic": 5})
    assert main(["diagnose", str(out)]) == 0
    text = capsys.readouterr().out
    for name in ALERTS:
        assert name in text
    assert "d_saturated           x1" in text and "advice:" in text
    from PIL import Image
    assert Image.open(out / "diagnostics.png").size[0] >= 800
    assert main(["diagnose", str(tmp_path / "missing")]) == 2
