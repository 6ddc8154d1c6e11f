import json
import os
import signal
import subprocess
import sys
import time

import torch

from genzoo.training import checkpoint
from genzoo.config_files import load_recipe
from genzoo.training.loop import train

TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "train.batch_size=32", "train.precision=fp32",
        "train.sample_every=50", "train.ckpt_every=50", "train.keep_ckpts=0"]


def _cfg(steps, extra=(), seed=0):
    cfg = load_recipe("dcgan")
    cfg.apply_overrides(TINY + list(extra))
    cfg.set("train.steps", steps)
    cfg.set("train.seed", seed)
    return cfg


def _final_tensors(run):
    from safetensors.torch import load_file
    return load_file(str(checkpoint.latest(run / "checkpoints").with_suffix(".safetensors")))


def test_resume_equals_straight_run(tmp_path, seed):
    train(_cfg(200, seed=seed(0)), tmp_path / "straight", progress=False)
    train(_cfg(100, seed=seed(0)), tmp_path / "split", progress=False)
    train(_cfg(200, seed=seed(0)), tmp_path / "split", resume=True, progress=False)
    a, b = _final_tensors(tmp_path / "straight"), _final_tensors(tmp_path / "split")
    assert a.keys() == b.keys()
    weights = [k for k in a if k.startswith("algo.nets")]
    assert len(weights) > 10
    for k in a:
        assert torch.equal(a[k], b[k]), k
    logs = [json.loads(ln) for ln in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == list(range(10, 201, 10))


def test_resume_is_exact_with_consistency_regularisation(tmp_path, seed):
    """The augmentations draw from the global generator, whose state the checkpoint carries."""
    extra = ["loss.consistency=1.0", "train.ckpt_every=20"]
    train(_cfg(40, extra, seed(0)), tmp_path / "straight", progress=False)
    train(_cfg(20, extra, seed(0)), tmp_path / "split", progress=False)
    train(_cfg(40, extra, seed(0)), tmp_path / "split", resume=True, progress=False)
    a, b = _final_tensors(tmp_path / "straight"), _final_tensors(tmp_path / "split")
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_checkpoint_keeps_the_instance_noise_clock(tmp_path, seed):
    """Instance noise anneals with D's step count; a resumed run must continue from it, not from 0."""
    from genzoo.run import Run
    run = train(_cfg(30, ["loss.instance_noise=0.1", "train.ckpt_every=30"], seed(0)), tmp_path / "n", progress=False)
    assert Run.open(run).algo.d_steps_done == 30


def test_run_directory_contents(tmp_path, seed):
    run = train(_cfg(50, ["train.log_every=5"], seed(0)), tmp_path / "r", progress=False)
    assert (run / "config.yaml").is_file() and (run / "progress.gif").is_file()
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000001.png", "step_000050.png"]
    rec = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert {"step", "loss_d", "loss_g", "d_real", "d_fake", "img_per_s"} <= rec.keys()
    assert 0 < rec["d_real"] < 1 and 0 < rec["d_fake"] < 1


def test_sigterm_saves_checkpoint_and_resume_continues(tmp_path, seed):
    run = tmp_path / "sig"
    cmd = [sys.executable, "-m", "genzoo", "train", "dcgan", "--steps", "100000", "--out", str(run), "--quiet"]
    cmd += [a for kv in TINY + [f"train.seed={seed(0)}"] for a in ("--set", kv)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 120
    while time.time() < deadline:
        log = run / "log.jsonl"
        if log.exists() and len(log.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in err and "--resume" in err
    step = json.loads(checkpoint.latest(run / "checkpoints").read_text())["step"]
    assert step >= 20
    out = subprocess.run([sys.executable, "-m", "genzoo", "train", "--resume", str(run), "--steps", str(step + 3),
                          "--quiet"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(checkpoint.latest(run / "checkpoints").read_text())["step"] == step + 3


def test_minutes_budget_stops_with_a_checkpoint(tmp_path, monkeypatch, capsys):
    """train.minutes: the loop stops once its wall-clock budget is spent, saving the step it reached, and says so
    with the step reached and how to go on; a fake clock that advances one second per reading makes the stop step
    known."""
    import genzoo.training.loop as loop
    from genzoo.run import Run

    clock = iter(range(10_000))
    monkeypatch.setattr(loop.time, "monotonic", lambda: float(next(clock)))
    run = train(_cfg(1000, ["train.minutes=0.1"]), tmp_path / "m", progress=False)  # 6 s: 6 readings after start
    steps = [json.loads(ln)["step"] for ln in (run / "log.jsonl").read_text().splitlines()]
    assert steps[-1] == 6 and checkpoint.step_of(checkpoint.latest(run / "checkpoints")) == 6
    assert (run / "samples" / "step_000006.png").exists() and Run.open(run).step == 6
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"genzoo: the 0.1-minute budget ran out at step 6 of 1000; checkpoint saved. "
        f"Continue with: genzoo train --resume {run}")


def test_compile_covers_the_trained_nets_and_keeps_checkpoint_keys(tmp_path, monkeypatch):
    """train.compile: every trained net's forward goes through torch.compile, the checkpoint keys stay the eager
    module's. (The compiler itself is replaced by a recorder: inductor takes ~30 s.)"""
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(type(self).__name__))
    run = train(_cfg(4, ["train.compile=true", "optim.ema=0.9"]), tmp_path / "c", progress=False)
    assert sorted(compiled) == ["DCGANDiscriminator", "DCGANGenerator"]  # not the EMA copy of G
    assert all(k.count("_orig_mod") == 0 for k in _final_tensors(run))
