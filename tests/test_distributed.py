"""Distributed training on the CPU with gloo and 2 processes (torchrun), as CI runs it.

Equivalence: 2 ranks x B/2 give the weights of 1 process x B after 20 steps, to 1e-5 relative per tensor (float
reduction order is the only difference). Exact resume under 2 ranks, rank 0 alone writing, a killed rank, a
SIGTERM, a two-"node" c10d launch on localhost and the one-line errors of bad input.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genzoo
from genzoo.cli import main
from genzoo.training import checkpoint

PY = sys.executable
TINY = ["--set", "model.g_width=8", "--set", "model.d_width=8"]
QUIET = ["--quiet", "--set", "train.report=false"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict:
    e = dict(os.environ, OMP_NUM_THREADS="1", GENZOO_PRECISION="fp32", GENZOO_OFFLINE="1",
             GENZOO_DIST_TIMEOUT="60", PYTHONUNBUFFERED="1")
    e.setdefault("GENZOO_DATA", "/work/shared/data")
    return e


def torchrun(args: list[str], nproc: int = 2, timeout: float = 120, extra: list[str] | None = None):
    cmd = [PY, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port", str(free_port()),
           *(extra or []), "-m", "genzoo", "train", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env())


def weights(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / f"step_{step:06d}.safetensors"))


def worst_relative(a: dict, b: dict) -> tuple[float, str]:
    worst = (0.0, "")
    for k, t in a.items():
        if "opts" in k or not t.is_floating_point():
            continue
        rel = ((t.double() - b[k].double()).norm() / b[k].double().norm().clamp_min(1e-12)).item()
        worst = max(worst, (rel, k))
    return worst


CASES = {  # recipe and settings; 16 images per global batch, 20 steps
    "wgan-gp-images": ["wgan-gp", "--dataset", "embedded", *TINY, "--set", "train.n_critic=1",
                       "--set", "train.sync_bn=true"],          # layer-norm critic; G's batch norm synchronised
    "wgan-gp-points": ["wgan-gp", "--dataset", "toy:ring8", "--set", "model.mlp_hidden=32",
                       "--set", "train.n_critic=3"],            # no batch norm anywhere, 3 critic steps
    "vae": ["vae", "--dataset", "embedded", "--set", "model.mlp_hidden=32"],  # binarisation and ε from the shards
    "dcgan-sync-bn": ["dcgan", "--dataset", "embedded", *TINY, "--set", "train.sync_bn=true"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_two_ranks_equal_one_process(case, tmp_path, monkeypatch):
    recipe, *rest = CASES[case]
    common = [*rest, "--steps", "20", "--batch-size", "16", *QUIET, "--set", "train.ckpt_every=20",
              "--set", "train.sample_every=20"]
    for k, v in env().items():
        monkeypatch.setenv(k, v)
    assert main(["train", recipe, *common, "--out", str(tmp_path / "one")]) == 0
    r = torchrun([recipe, *common, "--out", str(tmp_path / "two")])
    assert r.returncode == 0, r.stderr[-2000:]
    rel, key = worst_relative(weights(tmp_path / "two", 20), weights(tmp_path / "one", 20))
    assert rel < 1e-5, f"{case}: {key} differs by {rel:.2e} (relative)"
    assert r.stdout.count("run: ") == 1  # one line for the job, not one per rank


GP_WORKER = textwrap.dedent('''
    import sys, torch, torch.distributed as dist
    from genzoo.losses.penalties import gradient_penalty
    from genzoo.nets import DCGANDiscriminator
    from genzoo.training.distributed import average_gradients
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    D = DCGANDiscriminator(1, 28, 8, norm="layer")
    real, fake, eps = torch.randn(8, 1, 28, 28), torch.randn(8, 1, 28, 28), torch.rand(8, 1, 1, 1)
    opt = torch.optim.SGD(D.parameters(), lr=0.0)
    # one process, the whole batch
    gp, _ = gradient_penalty(D, real, fake, eps=eps)
    gp.backward()
    ref = [None if p.grad is None else p.grad.clone() for p in D.parameters()]  # the last bias has none
    # this rank's half, averaged by the optimizer hook the training loop installs
    opt.zero_grad(set_to_none=True)
    average_gradients({"D": opt}, world)
    k = 8 // world
    s = slice(rank * k, (rank + 1) * k)
    gp, _ = gradient_penalty(D, real[s], fake[s], eps=eps[s])
    gp.backward()
    opt.step()
    assert [p.grad is None for p in D.parameters()] == [r is None for r in ref]
    worst = max(((p.grad - r).norm() / r.norm().clamp_min(1e-12)).item()
                for p, r in zip(D.parameters(), ref) if r is not None)
    if rank == 0:
        open(sys.argv[1], "w").write(str(worst))
    dist.destroy_process_group()
''')


def test_gradient_penalty_gradients_match_single_process(tmp_path):
    script, out = tmp_path / "gp.py", tmp_path / "worst.txt"
    script.write_text(GP_WORKER)
    cmd = [PY, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           str(script), str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env())
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(out.read_text()) < 1e-5


def test_exact_resume_rank0_writes_and_other_world_size(tmp_path, monkeypatch):
    common = ["dcgan", "--dataset", "embedded", *TINY, "--batch-size", "16", *QUIET,
              "--set", "train.ckpt_every=10", "--set", "train.sample_every=10", "--set", "train.log_every=5"]
    straight = torchrun([*common, "--steps", "20", "--out", str(tmp_path / "straight")])
    assert straight.returncode == 0, straight.stderr[-2000:]
    first = torchrun([*common, "--steps", "10", "--out", str(tmp_path / "resumed")])
    assert first.returncode == 0, first.stderr[-2000:]
    half = tmp_path / "half"
    subprocess.run(["cp", "-r", str(tmp_path / "resumed"), str(half)], check=True)
    again = torchrun(["--resume", str(tmp_path / "resumed"), "--steps", "20", "--quiet"])
    assert again.returncode == 0, again.stderr[-2000:]
    a, b = weights(tmp_path / "straight", 20), weights(tmp_path / "resumed", 20)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    # rank 0 alone wrote: one log line per logged step, no leftovers, meta records the world size
    for run in (tmp_path / "straight", tmp_path / "resumed"):
        steps = [json.loads(ln)["step"] for ln in (run / "log.jsonl").read_text().splitlines()]
        assert steps == sorted(set(steps)) and steps[-1] == 20, steps
        assert not list(run.rglob("*.tmp"))
        assert sorted(p.name for p in (run / "samples").iterdir()) == \
            ["step_000001.png", "step_000010.png", "step_000020.png"]
    meta = json.loads((tmp_path / "resumed" / "checkpoints" / "step_000020.json").read_text())
    assert meta["world_size"] == 2
    # resuming with another world size works and says in one line that it is not bit-exact
    for k, v in env().items():
        monkeypatch.setenv(k, v)
    with pytest.warns(UserWarning, match="not bit-exactly"):
        genzoo.train(resume=half, steps=12, progress=False)
    assert (half / "checkpoints" / "step_000012.json").exists()


def _rank_pids(parent: int) -> dict[int, int]:
    """RANK -> pid of the worker processes below a torchrun process."""
    out = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text().rsplit(")", 1)[1].split()
            env_ = (p / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[1]) == parent:
            for kv in env_:
                if kv.startswith(b"RANK="):
                    out[int(kv[5:])] = int(p.name)
    return out


def _start_long(run: Path) -> subprocess.Popen:
    cmd = [PY, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "genzoo", "train", "dcgan", "--dataset", "embedded", *TINY, "--batch-size", "16", *QUIET,
           "--steps", "100000", "--set", "train.ckpt_every=3", "--set", "train.keep_ckpts=2",
           "--set", "train.sample_every=100000", "--out", str(run)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
                            start_new_session=True)


def _end(proc: subprocess.Popen) -> None:
    """Whatever is left of the job (torchrun and its workers, in their own session) is ended."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _wait_for_checkpoint(run: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.time()
    while (checkpoint.latest(run / "checkpoints") if (run / "checkpoints").is_dir() else None) is None \
            or checkpoint.step_of(checkpoint.latest(run / "checkpoints")) < 6:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.time() - t0 < timeout
        time.sleep(0.2)


def _genzoo_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("genzoo:")]


def test_killed_rank_stops_every_rank_and_resume_works(tmp_path):
    run = tmp_path / "run"
    proc = _start_long(run)
    try:
        _wait_for_checkpoint(run, proc)
        os.kill(_rank_pids(proc.pid)[1], signal.SIGKILL)
        _, err = proc.communicate(timeout=90)
    finally:
        _end(proc)
    assert proc.returncode != 0
    lines = _genzoo_lines(err)
    assert lines and all("rank 0" in ln or "interrupted" in ln for ln in lines), err[-2000:]
    latest = checkpoint.latest(run / "checkpoints")
    checkpoint.load(latest)  # whole: hashes check out
    step = checkpoint.step_of(latest)
    r = torchrun(["--resume", str(run), "--steps", str(step + 2), "--quiet"])
    assert r.returncode == 0, r.stderr[-2000:]


def test_sigterm_stops_all_ranks_at_one_step_and_saves(tmp_path):
    run = tmp_path / "run"
    proc = _start_long(run)
    try:
        _wait_for_checkpoint(run, proc)
        proc.send_signal(signal.SIGTERM)  # torchrun passes it to every rank
        _, err = proc.communicate(timeout=90)
    finally:
        _end(proc)
    assert proc.returncode != 0
    assert any("checkpoint saved" in ln for ln in _genzoo_lines(err)), err[-2000:]
    latest = checkpoint.latest(run / "checkpoints")
    checkpoint.load(latest)
    steps = [json.loads(ln)["step"] for ln in (run / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))


def test_two_nodes_on_localhost(tmp_path):
    port, out = free_port(), tmp_path / "run"
    procs = []
    for node in (0, 1):
        cmd = [PY, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(node), "--nproc_per_node", "1",
               "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", "genzoo-test",
               "-m", "genzoo", "train", "wgan-gp", "--dataset", "toy:ring8", "--set", "model.mlp_hidden=16",
               "--batch-size", "16", "--steps", "4", *QUIET, "--out", str(out)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env()))
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1][-1500:] for r in results]
    meta = json.loads((out / "checkpoints" / "step_000004.json").read_text())
    assert meta["world_size"] == 2


def test_bad_input_is_one_line(tmp_path, capsys):
    out = str(tmp_path / "x")
    assert main(["train", "dcgan", "--batch-size", "15", "--nproc", "2", "--out", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not divisible by the world size 2" in err[0]
    assert main(["train", "dcgan", "--nproc", "2", "--device", "cuda", "--out", out]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["train", "dcgan", "--nproc", "0", "--out", out]) == 2
    assert not Path(out).exists()
    r = torchrun(["dcgan", "--batch-size", "15", "--steps", "2", "--out", out, *QUIET])  # torchrun itself
    assert r.returncode != 0
    assert {ln for ln in _genzoo_lines(r.stderr)} == \
        {"genzoo: error: train.batch_size=15 is not divisible by the world size 2: it is the global batch, split "
         "evenly across ranks; use a multiple of 2, e.g. 16"}, r.stderr[-1500:]
    assert not Path(out).exists()
