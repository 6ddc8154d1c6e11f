"""Training diagnostics.

The detector logic is tested without training chaos: the Monitor is driven by stub generators
(one that samples the true 2-D mixture, one that covers 2 of its 8 modes) and by scripted loss,
accuracy and gradient streams, and each test says exactly which alerts fire and at which step.
Short end-to-end runs check the plumbing: signals logged, actions taken, files written.
Whether real runs provoke or avoid alerts (a healthy nsgan raises none, a bad learning rate
collapses grid25 ...) depends on the draw: those claims are `slow` tests, and
`benchmarks/diagnostics.py signals --seeds 5` reports them over seeds."""
import json
import math

import numpy as np
import pytest
import torch

from genzoo.cli import main
from genzoo.config_files import load_recipe
from genzoo.errors import GenzooError
from genzoo.training import checkpoint
from genzoo.training import loop as loop_module
from genzoo.training.build import dataset_for
from genzoo.training.loop import train
from genzoo.run import read_log
from genzoo.training.watch import ALERTS, Alert, Monitor, oscillation_score


def run(recipe, dataset, tmp_path, seed, name="run", **overrides):
    cfg = load_recipe(recipe, dataset)
    cfg.set("train.seed", seed)
    for k, v in overrides.items():
        cfg.set(k, v)
    out = tmp_path / name
    train(cfg, out, progress=False)
    return out


def alerts_of(run_dir):
    rows, events = read_log(run_dir / "log.jsonl")
    return rows, [e for e in events if e["event"] == "alert"]


# -- the oscillation statistic on synthetic signals ---------------------------------------
def test_oscillation_score_separates_noise_trend_and_cycles(seed):
    rng = np.random.default_rng(seed(0))
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


# -- the Monitor driven by stubs ----------------------------------------------------------------
class StubGenerator:
    """What the Monitor reads from an algo (nets, sample_z, generate), with a generator whose output
    is chosen by the test: ``modes`` lists the mixture components it samples (None: all of them,
    i.e. the true distribution); ``nan`` makes it emit NaN."""

    def __init__(self, centers: torch.Tensor, std: float):
        self.centers, self.std = centers, std
        self.nets = {"G": torch.nn.Linear(2, 2)}
        self.modes, self.nan = None, False

    def sample_z(self, n, generator=None):
        return torch.cat([torch.rand(n, 1, generator=generator), torch.randn(n, 2, generator=generator)], 1)

    def generate(self, z):
        modes = torch.arange(len(self.centers)) if self.modes is None else torch.tensor(self.modes)
        pick = modes[(z[:, 0] * len(modes)).long().clamp(max=len(modes) - 1)]
        x = self.centers[pick] + self.std * z[:, 1:]
        return torch.full_like(x, float("nan")) if self.nan else x


def stub_monitor(loss="nsgan", **watch):
    cfg = load_recipe("nsgan", "toy:ring8")
    cfg.set("data.toy_samples", 5000)
    cfg.set("loss.name", loss)
    for k, v in watch.items():
        cfg.set(f"watch.{k}", v)
    data = dataset_for(cfg)
    algo = StubGenerator(data.meta["centers"].float(), float(data.meta["std"]))
    return Monitor(cfg, algo, data), algo, cfg.watch


def healthy(step, rng):
    """One step's scalars of a GAN that is doing fine: losses near their equilibrium with small noise."""
    return {"loss_d": 1.3 + rng.normal(0, 0.05), "loss_g": 0.75 + rng.normal(0, 0.05),
            "d_real": 0.55 + rng.normal(0, 0.02), "d_fake": 0.45 + rng.normal(0, 0.02)}


def healthy_probe(step, rng):
    """The scalars the algo adds on probe steps."""
    return {"acc_real": 0.6, "acc_fake": 0.55, "grad_norm_g": 1.0 + 0.1 * rng.random(), "grad_norm_d": 2.0}


def drive(mon, steps, scalars=healthy, probe=healthy_probe, before_step=None, seed=0, keep=None):
    """Feed ``steps`` steps to the monitor as the training loop does; (name, step, onset) of every alert.
    ``keep``: a list that receives each step's scalars after the monitor has added its signals."""
    rng = np.random.default_rng(seed)
    fired = []
    for step in range(1, steps + 1):
        if before_step:
            before_step(step)
        s = scalars(step, rng)
        if mon.wants_probe(step):
            s.update(probe(step, rng))
        fired += [(a.name, a.step, a.onset) for a in mon.update(step, s)]
        if keep is not None:
            keep.append({"step": step, **s})
    return fired


def _first_at_or_after(step, every):
    return -(-step // every) * every


def test_true_mixture_with_healthy_signals_raises_nothing(seed):
    mon, algo, W = stub_monitor()
    rows = []
    assert drive(mon, 3000, seed=seed(0), keep=rows) == []
    sampled = [r for r in rows if "class_entropy" in r]
    assert [r["step"] for r in sampled] == list(range(W.diversity_every, 3001, W.diversity_every))
    assert all(r["class_entropy"] > 0.98 and 0.8 < r["diversity"] < 1.2 for r in sampled)
    assert all("osc" in r for r in rows if r["step"] >= W.osc_window and r["step"] % W.every == 0)


def test_two_of_eight_modes_is_mode_collapse_once_warm_and_held(seed):
    """From the first step G covers 2 of the 8 modes: the condition counts from the first sample probe
    after the warm-up, and the alert fires once it has held for ``window`` steps, then stays quiet."""
    mon, algo, W = stub_monitor()
    algo.modes = [0, 4]
    fired = drive(mon, 2000, seed=seed(0))
    onset = _first_at_or_after(W.warmup, W.diversity_every)
    at = _first_at_or_after(onset + W.window, W.diversity_every)
    assert (onset, at) == (500, 700)          # with the shipped settings
    assert fired == [("mode_collapse", at, onset)]


def test_mode_collapse_evidence_names_the_modes():
    mon, algo, W = stub_monitor(warmup=0, window=0)
    algo.modes = [2, 5]
    s = healthy(W.diversity_every, np.random.default_rng(0))
    (a,) = mon.update(W.diversity_every, s)
    assert a.name == "mode_collapse" and "fall in 2 of 8 modes" in a.evidence
    assert s["class_entropy"] == pytest.approx(math.log(2) / math.log(8), abs=0.01)


def test_collapse_that_clears_rearms_and_a_short_one_is_ignored(seed):
    """Collapsed over steps 1001-1600, healthy, collapsed for only 2 probes (2101-2300), healthy,
    collapsed again from 2601: two alerts, each at onset + window."""
    mon, algo, W = stub_monitor()

    def phase(step):
        algo.modes = [3] if 1000 < step <= 1600 or 2100 < step <= 2300 or step > 2600 else None
    fired = drive(mon, 3200, before_step=phase, seed=seed(0))
    assert W.diversity_every == 100 and W.window == 200
    assert fired == [("mode_collapse", 1300, 1100), ("mode_collapse", 2900, 2700)]


def test_oscillating_losses_alert_and_noisy_ones_do_not(seed):
    fired = {}
    for kind in ("cycle", "noise"):
        mon, _, W = stub_monitor(diversity_every=0)

        def scalars(step, rng):
            wave = 0.6 * np.sin(step * 2 * np.pi / 120) if kind == "cycle" else 0.0
            return {"loss_d": 1.2 + wave + rng.normal(0, 0.2), "loss_g": 0.8 - wave + rng.normal(0, 0.2),
                    "d_real": 0.6, "d_fake": 0.4}
        fired[kind] = drive(mon, 1500, scalars, seed=seed(1))
    # the score needs a full window of losses: it first runs at osc_window = 600, and the
    # condition has held for `window` = 200 steps at step 800; raised once, while it holds
    assert fired["cycle"] == [("oscillation", 800, 600)]
    assert fired["noise"] == []


SATURATED = {  # D's mean outputs when it wins outright, as each objective reports them
    "minimax": {"d_real": 0.999, "d_fake": 0.001, "loss_d": 0.002},
    "nsgan": {"d_real": 0.99, "d_fake": 0.02, "loss_d": 0.03},
    "lsgan": {"d_real": 0.98, "d_fake": 0.03, "loss_d": 0.001},
    "hinge": {"d_real": 3.0, "d_fake": -3.0, "loss_d": 0.01},
    "wgan-gp": {"d_real": 40.0, "d_fake": -40.0, "loss_d": -80.0},
}


@pytest.mark.parametrize("loss,expected", [
    ("minimax", ["d_saturated", "vanishing_g_gradient"]),   # the saturating loss also loses G's gradient
    ("nsgan", ["d_saturated"]),
    ("lsgan", ["d_saturated"]),
    ("hinge", ["d_saturated"]),
    ("wgan-gp", []),                                         # a critic's separation is its estimate, not a failure
])
def test_saturated_discriminator(loss, expected, seed):
    """D wins from step 1001 on: perfect accuracy and outputs at their extremes. The condition counts
    from the first probe after step 1000 (its averages cover only saturated steps) and fires ``window``
    steps later."""
    mon, _, W = stub_monitor(loss, diversity_every=0)

    def scalars(step, rng):
        s = healthy(step, rng)
        if step > 1000:
            s.update(SATURATED[loss])
            s["loss_g"] = 5.0
        return s

    def probe(step, rng):
        p = healthy_probe(step, rng)
        if step > 1000:
            p.update(acc_real=1.0, acc_fake=1.0)
        return p
    fired = drive(mon, 1600, scalars, probe, seed=seed(0))
    onset = _first_at_or_after(1001, W.every)
    assert fired == [(name, onset + W.window, onset) for name in expected]


def test_vanishing_generator_gradient(seed):
    """|grad G| falls to 1/10,000 of its peak at step 1001 (any objective)."""
    mon, _, W = stub_monitor(diversity_every=0)

    def probe(step, rng):
        p = healthy_probe(step, rng)
        p["grad_norm_g"] = 1e-4 if step > 1000 else 1.0 + rng.random()
        return p
    fired = drive(mon, 1500, probe=probe, seed=seed(0))
    onset = _first_at_or_after(1001, W.every)
    assert fired == [("vanishing_g_gradient", onset + W.window, onset)]


def test_divergence_fires_at_once_on_nan_or_exploding_loss():
    mon, _, _ = stub_monitor()
    assert [a.name for a in mon.update(1, {"loss_d": float("nan"), "loss_g": 1.0})] == ["divergence"]
    a = mon.update(2, {"loss_d": 0.5, "loss_g": 5e4})[0]
    assert a.name == "divergence" and a.step == 2 and "5e+04" in a.evidence
    assert a.message.startswith("divergence at step 2: |loss_g| = 5e+04 > 1000; lower the learning rates")
    # a critic's scores are unbounded: its limit is 1000x higher
    critic, _, _ = stub_monitor("wgan-gp")
    assert critic.update(3, {"loss_d": -5e4, "loss_g": 5e4}) == []
    assert [a.name for a in critic.update(4, {"loss_d": -5e6, "loss_g": 0.0})] == ["divergence"]


def test_divergence_of_weights_and_of_samples_fires_at_its_probe(seed):
    mon, algo, W = stub_monitor()

    def nan_weight(step):
        if step == 41:
            with torch.no_grad():
                algo.nets["G"].weight[0, 0] = float("nan")
    fired = drive(mon, 60, before_step=nan_weight, seed=seed(0))
    assert fired == [("divergence", 60, 60)] and W.every == 20      # the next weight check after step 41

    mon, algo, W = stub_monitor()
    algo.nan = True
    fired = drive(mon, W.diversity_every, seed=seed(0))
    assert fired == [("divergence", W.diversity_every, W.diversity_every)]


def test_unknown_action_is_a_one_line_error(capsys):
    assert main(["train", "nsgan", "--dataset", "toy:ring8", "--set", "watch.mode_collapse=panic",
                 "--steps", "5", "--quiet", "--out", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown action 'panic'" in err and "warn, stop, rollback" in err


# -- end-to-end plumbing: signals logged, actions taken, files written ---------------------------
def scripted_monitor(monkeypatch, name, at, onset):
    """Make the training loop's Monitor raise alert ``name`` at step ``at`` on top of what it sees."""
    class Scripted(Monitor):
        def update(self, step, scalars):
            out = super().update(step, scalars)
            return out + ([Alert(name, step, "scripted for the test", onset)] if step == at else [])
    monkeypatch.setattr(loop_module, "Monitor", Scripted)


def test_short_run_logs_every_watcher_signal(tmp_path, seed):
    out = run("nsgan", "toy:ring8", tmp_path, seed(0), **{"train.steps": 700, "data.toy_samples": 5000,
                                                         "train.sample_every": 700, "train.ckpt_every": 700})
    rows, events = read_log(out / "log.jsonl")
    assert rows[-1]["step"] == 700
    probes = [r for r in rows if "acc_real" in r]
    assert [r["step"] for r in probes] == list(range(20, 701, 20))
    assert {"acc_real", "acc_fake", "grad_norm_g", "grad_norm_d"} <= set(probes[0])
    assert {"diversity", "class_entropy"} <= set(next(r for r in rows if r["step"] == 100))
    assert "osc" in next(r for r in rows if r["step"] == 600)
    assert all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in rows)
    assert all(e["event"] == "alert" and e["alert"] in ALERTS for e in events)


def test_stop_action_saves_and_exits(tmp_path, seed, monkeypatch):
    scripted_monitor(monkeypatch, "mode_collapse", at=150, onset=50)
    with pytest.raises(GenzooError, match="stopped at step 150 by alert mode_collapse"):
        run("nsgan", "toy:ring8", tmp_path, seed(0), **{"train.steps": 300, "data.toy_samples": 5000,
                                                       "watch.mode_collapse": "stop"})
    ck = checkpoint.latest(tmp_path / "run" / "checkpoints")
    assert ck is not None and checkpoint.load(ck)[1]["step"] == 150
    _, alerts = alerts_of(tmp_path / "run")
    assert [(a["alert"], a["step"], a["action"]) for a in alerts] == [("mode_collapse", 150, "stop")]


def test_warn_action_logs_and_continues(tmp_path, seed, monkeypatch):
    scripted_monitor(monkeypatch, "oscillation", at=120, onset=20)
    out = run("nsgan", "toy:ring8", tmp_path, seed(0), **{"train.steps": 200, "data.toy_samples": 5000})
    rows, alerts = alerts_of(out)
    assert rows[-1]["step"] == 200
    assert [(a["alert"], a["step"], a["onset"], a["action"]) for a in alerts] == [("oscillation", 120, 20, "warn")]


def test_lr_1_diverges_and_stops_by_default(tmp_path, capsys, seed):
    code = main(["train", "nsgan", "--dataset", "toy:ring8", "--set", "lr_g=1.0", "--set", "lr_d=1.0",
                 "--set", f"train.seed={seed(0)}", "--steps", "200", "--quiet", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "divergence at step" in err and "stopped at step" in err
    assert checkpoint.latest(tmp_path / "r" / "checkpoints") is None   # diverged weights are never saved


@pytest.mark.parametrize("schedule", [{}, {"optim.lr_drop_at": 10**6}])
def test_lr_1_with_rollback_recovers_and_finishes(tmp_path, seed, schedule):
    """Each rollback multiplies the rates by watch.lr_factor (0.1), also under a learning-rate schedule (which sets
    the rates before every step from the step: it must keep the rollbacks' factor, in the checkpoints too)."""
    out = run("nsgan", "toy:ring8", tmp_path, seed(0), **{"train.steps": 1000, "optim.lr_d": 1.0, "optim.lr_g": 1.0,
                                                         "watch.divergence": "rollback", "train.ckpt_every": 100,
                                                         **schedule})
    rows, events = read_log(out / "log.jsonl")
    rollbacks = [e for e in events if e["event"] == "rollback"]
    assert 1 <= len(rollbacks) <= 5
    assert rollbacks[-1]["lr_g"] == rollbacks[-1]["lr_d"] == pytest.approx(0.1 ** len(rollbacks))  # watch.lr_factor
    state, meta = checkpoint.load(checkpoint.latest(out / "checkpoints"))
    assert meta["step"] == 1000 and state["algo"]["lr_scale"] == pytest.approx(0.1 ** len(rollbacks))
    assert state["algo"]["opts"]["G"]["param_groups"][0]["lr"] == pytest.approx(rollbacks[-1]["lr_g"])
    tail = [r for r in rows if r["step"] > 500]
    assert tail and all(abs(r["loss_d"]) < 100 and abs(r["loss_g"]) < 100 for r in tail)
    steps = [r["step"] for r in rows]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)   # replaced steps were dropped from the log


def test_diagnose_summarises_and_plots(tmp_path, capsys, seed, monkeypatch):
    scripted_monitor(monkeypatch, "d_saturated", at=100, onset=40)
    out = run("nsgan", "toy:ring8", tmp_path, seed(0), **{"train.steps": 200, "data.toy_samples": 5000})
    assert main(["diagnose", str(out)]) == 0
    text = capsys.readouterr().out
    for name in ALERTS:
        assert name in text
    assert "d_saturated           x1  first at step 100 [warn]: scripted for the test" in text
    assert "advice:" in text
    from PIL import Image
    assert Image.open(out / "diagnostics.png").size[0] >= 800
    assert main(["diagnose", str(tmp_path / "missing")]) == 2


def test_short_dcgan_run_watches_images(tmp_path, seed):
    """On images the sample probe also runs the evaluation classifier and the duplicate check."""
    out = run("dcgan", "embedded", tmp_path, seed(0), **{"train.steps": 100, "watch.diversity_every": 50,
                                                        "model.g_width": 16, "model.d_width": 16})
    rows, _ = alerts_of(out)
    probe = next(r for r in rows if r["step"] == 50)
    assert {"class_entropy", "dup_fraction", "diversity"} <= set(probe)
    assert 0 <= probe["class_entropy"] <= 1 and 0 <= probe["dup_fraction"] <= 1


# -- real runs: provoked failures are detected, healthy runs raise nothing (depend on the draw) ---------------
@pytest.mark.slow
def test_saturating_loss_with_strong_d_is_detected(tmp_path, seed):
    """Minimax GAN, D 50x faster and 5 D steps per G step: D wins and G's gradient vanishes."""
    out = run("gan", "toy:ring8", tmp_path, seed(0), **{"train.steps": 400, "optim.lr_d": 5e-3, "optim.lr_g": 1e-4,
                                                       "train.n_critic": 5})
    rows, alerts = alerts_of(out)
    names = {a["alert"] for a in alerts}
    assert names & {"vanishing_g_gradient", "d_saturated"}
    first = min(a["step"] for a in alerts)
    probe = [r for r in rows if r["step"] == first][0]
    assert probe["d_fake"] < 0.01 and probe["acc_fake"] == 1.0   # the logged evidence agrees


@pytest.mark.slow
def test_bad_learning_rate_on_grid25_is_mode_collapse(tmp_path, seed):
    out = run("nsgan", "toy:grid25", tmp_path, seed(0), **{"train.steps": 1000, "optim.lr_d": 0.01,
                                                          "optim.lr_g": 0.01, "optim.beta1": 0.9})
    rows, alerts = alerts_of(out)
    collapse = [a for a in alerts if a["alert"] == "mode_collapse"]
    assert collapse, alerts
    assert collapse[0]["step"] >= 500          # not before the warm-up
    # independent check: the final samples really cover few of the 25 modes
    from genzoo.evaluation import evaluate
    assert evaluate(out, n=2500)["metrics"]["modes_captured"] <= 10


@pytest.mark.slow
def test_healthy_nsgan_on_ring8_raises_no_alert(tmp_path, seed):
    out = run("nsgan", "toy:ring8", tmp_path, seed(0))       # the recipe as shipped: 3000 steps
    rows, alerts = alerts_of(out)
    assert alerts == []
    last = rows[-1]
    assert last["step"] == 3000 and last["class_entropy"] > 0.9


@pytest.mark.slow
def test_healthy_dcgan_on_embedded_mnist_raises_no_alert(tmp_path, seed):
    out = run("dcgan", "embedded", tmp_path, seed(0), **{"train.steps": 800})
    rows, alerts = alerts_of(out)
    assert alerts == []
    assert rows[-1]["class_entropy"] > 0.8 and rows[-1]["dup_fraction"] < 0.1
