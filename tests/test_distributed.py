"""Distributed training on the CPU with gloo and 2 processes (torchrun), as CI runs it.

Equivalence: 2 ranks x B/2 give the weights of 1 process x B after 20 steps (3 or 6 with batch norm in both nets),
to 1e-5 relative per tensor (float reduction order is the only difference), for every family but AdvGAN; fp16
skips the same steps. Exact resume under 2 ranks, rank 0 alone writing, a rollback, a killed rank, a SIGTERM, a
two-"node" c10d launch on localhost, sharded evaluation and the one-line errors of bad input.
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


CASES = {  # recipe and settings; 16 images per global batch, 20 steps (or STEPS), 1e-5 (or TOLERANCE)
    "wgan-gp-images": ["wgan-gp", "--dataset", "embedded", *TINY, "--set", "train.n_critic=1",
                       "--set", "train.sync_bn=true"],          # layer-norm critic; G's batch norm synchronised
    "wgan-gp-points": ["wgan-gp", "--dataset", "toy:ring8", "--set", "model.mlp_hidden=32",
                       "--set", "train.n_critic=3"],            # no batch norm anywhere, 3 critic steps
    "vae": ["vae", "--dataset", "embedded", "--set", "model.mlp_hidden=32"],  # binarisation and ε from the shards
    "dcgan-sync-bn": ["dcgan", "--dataset", "embedded", *TINY, "--set", "train.sync_bn=true"],
    # every family and the other gradient paths: InfoGAN's Q head, ACGAN's labels and classifier head, weight
    # clipping with 5 critic steps, pix2pix's U-Net and PatchGAN (dropout off: with it the ranks draw their own
    # masks, so 2 ranks are not 1 process), the deterministic AE
    "infogan-sync-bn": ["infogan", "--dataset", "embedded", "--set", "model.fc_hidden=32", *TINY,
                        "--set", "train.sync_bn=true"],
    "acgan-sync-bn": ["acgan", "--dataset", "embedded", *TINY, "--set", "train.sync_bn=true"],
    "wgan-clip-points": ["wgan", "--dataset", "toy:ring8", "--set", "model.mlp_hidden=32"],
    "pix2pix-sync-bn": ["pix2pix", "--dataset", "embedded", "--task", "edges", *TINY, "--set", "model.g_dropout=0",
                        "--set", "train.sync_bn=true"],
    "ae": ["ae", "--dataset", "embedded", "--set", "model.mlp_hidden=32"],
}
# Batch norm in both nets at width 8: after about 10 steps a unit's pre-activation sits close enough to a
# ReLU kink that float reduction order flips it, and Adam's early, sign-like updates carry the jump (1e-3
# relative by step 20, while every step's gradients agree to 1e-7). The comparison stops before that.
# ACGAN crosses 1e-5 on a bias between steps 3 and 6 the same way. pix2pix is more sensitive still: one process
# with 1 and with 2 threads is 6e-5 apart after 3 steps, so it is held to 1e-4. WGAN-GP's synchronised G does the
# same on some CPUs: on a 2-core AMD EPYC a critic bias jumped from 5e-7 at step 10 to 7e-5 at step 14. A sharding
# mistake (a wrong slice of the batch, labels or noise) shows at the first step, at 1e-2 and more.
STEPS = {"wgan-gp-images": 6, "dcgan-sync-bn": 6, "infogan-sync-bn": 6, "acgan-sync-bn": 3, "pix2pix-sync-bn": 3}
TOLERANCE = {"pix2pix-sync-bn": 1e-4}


@pytest.mark.parametrize("case", list(CASES))
def test_two_ranks_equal_one_process(case, tmp_path, monkeypatch):
    recipe, *rest = CASES[case]
    n = STEPS.get(case, 20)
    common = [*rest, "--steps", str(n), "--batch-size", "16", *QUIET, "--set", f"train.ckpt_every={n}",
              "--set", f"train.sample_every={n}"]
    for k, v in env().items():
        monkeypatch.setenv(k, v)
    assert main(["train", recipe, *common, "--out", str(tmp_path / "one")]) == 0
    r = torchrun([recipe, *common, "--out", str(tmp_path / "two")])
    assert r.returncode == 0, r.stderr[-2000:]
    rel, key = worst_relative(weights(tmp_path / "two", n), weights(tmp_path / "one", n))
    assert rel < TOLERANCE.get(case, 1e-5), f"{case}: {key} differs by {rel:.2e} (relative)"
    assert r.stdout.count("run: ") == 1  # one line for the job, not one per rank


def test_fp16_two_ranks_skip_the_same_steps(tmp_path, monkeypatch):
    """fp16 WGAN-GP overflows at the scaler's first factors: the ranks average their gradients before the
    scaler's inf check, so they skip the same steps (no rank waits in a collective the other skipped) and end
    with one process's loss scales. The weights are compared after 3 steps (5e-5 apart here): later, half
    precision's rounding grows through Adam's first, sign-like updates (one process with 1 and with 2 threads
    is 8e-3 apart after 6 steps), as it does in fp32 only much later."""
    n = 3
    common = ["wgan-gp", "--dataset", "embedded", *TINY, "--set", "train.n_critic=1", "--set", "train.sync_bn=true", "--precision", "fp16",
              "--steps", str(n), "--batch-size", "16", *QUIET, "--set", f"train.ckpt_every={n}"]
    for k, v in env().items():
        monkeypatch.setenv(k, v)
    assert main(["train", *common, "--out", str(tmp_path / "one")]) == 0
    r = torchrun([*common, "--out", str(tmp_path / "two")])
    assert r.returncode == 0, r.stderr[-2000:]
    docs = [json.loads((tmp_path / run / "checkpoints" / f"step_{n:06d}.json").read_text()) for run in ("one", "two")]
    scalers = [d["layout"]["algo"]["scalers"] for d in docs]
    assert scalers[0] == scalers[1] and scalers[0]["D"]["scale"] < 65536.0, scalers
    rel, key = worst_relative(weights(tmp_path / "two", n), weights(tmp_path / "one", n))
    assert rel < 1e-3, f"{key} differs by {rel:.2e} (relative)"


def test_rollback_restores_the_same_checkpoint_on_every_rank(tmp_path):
    """Learning rates of 1 diverge; with watch.divergence=rollback rank 0 decides, every rank restores the same
    checkpoint and lowers its rates, and the run finishes. The ranks' weights are compared (checksum) before
    every checkpoint, so finishing means they agreed after each rollback."""
    out = tmp_path / "r"
    r = torchrun(["nsgan", "--dataset", "toy:ring8", "--set", "optim.lr_d=1.0", "--set", "optim.lr_g=1.0",
                  "--set", "watch.divergence=rollback", "--set", "train.ckpt_every=100", "--set", "data.toy_samples=5000",
                  "--steps", "600", "--batch-size", "64", *QUIET, "--out", str(out)])
    assert r.returncode == 0, r.stderr[-2000:]
    events = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines() if '"event"' in ln]
    rollbacks = [e for e in events if e["event"] == "rollback"]
    assert rollbacks and rollbacks[-1]["lr_d"] < 1.0, events
    assert r.stderr.count("rolled back to step") == len(rollbacks)  # said once per rollback, by rank 0
    state, meta = checkpoint.load(checkpoint.latest(out / "checkpoints"))
    assert meta["step"] == 600 and meta["world_size"] == 2
    assert state["algo"]["opts"]["D"]["param_groups"][0]["lr"] == rollbacks[-1]["lr_d"]


GP_WORKER = textwrap.dedent('''
    import sys, torch, torch.distributed as dist
    from genzoo.losses.penalties import gradient_penalty
    from genzoo.nets import DCGANDiscriminator
    from genzoo.training.distributed import reduce_gradients
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
    # this rank's half, averaged as Algo.optimize does under torchrun
    opt.zero_grad(set_to_none=True)
    k = 8 // world
    s = slice(rank * k, (rank + 1) * k)
    gp, _ = gradient_penalty(D, real[s], fake[s], eps=eps[s])
    gp.backward()
    reduce_gradients(opt, world)
    assert [p.grad is None for p in D.parameters()] == [r is None for r in ref]
    worst = max(((p.grad - r).norm() / r.norm().clamp_min(1e-12)).item()
                for p, r in zip(D.parameters(), ref) if r is not None)
    if rank == 0:
        open(sys.argv[1], "w").write(str(worst))
    dist.barrier()
    import os
    os._exit(0)  # as genzoo's entry point does under torchrun: gloo's threads can abort the interpreter's teardown
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
    # dropout in D: each rank draws its masks from its own (seed, rank) stream, saved in the checkpoint
    common = ["dcgan", "--dataset", "embedded", *TINY, "--batch-size", "16", *QUIET, "--set", "model.d_dropout=0.3",
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
    assert a["rng.dropout"].shape[0] == 2 and not torch.equal(a["rng.dropout"][0], a["rng.dropout"][1])
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


# -- evaluation and sampling under torchrun: sharded generation and features, equal to one process --------
def _metric_values(path: Path) -> dict:
    m = json.loads(path.read_text())["metrics"]
    return {k: v["value"] for k, v in m.items() if isinstance(v, dict) and isinstance(v.get("value"), (int, float))}


def test_distributed_evaluate_and_sample_equal_one_process(tmp_path, monkeypatch, capsys):
    import numpy as np

    for k, v in env().items():
        monkeypatch.setenv(k, v)
    run = tmp_path / "run"
    assert main(["train", "dcgan", "--dataset", "embedded", *TINY, "--batch-size", "16", "--steps", "2", *QUIET,
                 "--set", "train.sample_every=2", "--out", str(run)]) == 0
    # --samples, not --n: torchrun's parser would take --n as an abbreviation of its own options
    evaluate = ["evaluate", str(run), "--samples", "301", "--metrics", "fid,pr,modes", "--seed", "3"]
    sample = ["sample", str(run), "--n", "37", "--seed", "5"]  # odd counts: shares of unequal length
    assert main(evaluate) == 0
    (run / "metrics.json").rename(tmp_path / "one.json")
    assert main([*sample, "--npz", str(tmp_path / "one.npz")]) == 0
    capsys.readouterr()
    cmd = [PY, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "genzoo"]
    r = subprocess.run([*cmd, *evaluate], capture_output=True, text=True, timeout=120, env=env())
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("wrote ") == 1 and not _genzoo_lines(r.stderr), (r.stdout, r.stderr[-1500:])
    one, two = _metric_values(tmp_path / "one.json"), _metric_values(run / "metrics.json")
    assert one.keys() == two.keys() and len(one) >= 3, (one, two)
    for k in one:
        assert abs(one[k] - two[k]) <= 1e-6 * max(1.0, abs(one[k])), (k, one[k], two[k])
    assert json.loads((run / "metrics.json").read_text())["seed"] == 3
    r = subprocess.run([PY, "-m", "genzoo", *sample, "--npz", str(tmp_path / "two.npz"), "--nproc", "2"],
                       capture_output=True, text=True, timeout=120, env=env())  # the --nproc shortcut
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("wrote 37 samples") == 1, r.stdout
    a, b = np.load(tmp_path / "one.npz")["images"], np.load(tmp_path / "two.npz")["images"]
    assert a.shape == b.shape == (37, 28, 28, 1) and np.array_equal(a, b)


def test_distributed_inception_and_likelihood_equal_one_process(tmp_path, monkeypatch, random_weights):
    """The sharded Inception features (random weights in the standard layout) and the VAE's test likelihood,
    split over 2 ranks by test batches (2,000 test images at k = 100: 4 batches), equal one process's."""
    for k, v in env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the Inception reference cache, for both runs
    run = tmp_path / "vae"
    assert main(["train", "vae", "--dataset", "embedded", "--set", "model.mlp_hidden=32", "--batch-size", "16",
                 "--steps", "2", *QUIET, "--out", str(run)]) == 0
    evaluate = ["evaluate", str(run), "--samples", "21", "--metrics", "kid,is,pr", "--k", "100", "--seed", "3",
                "--inception-weights", str(random_weights[0])]
    assert main(evaluate) == 0
    (run / "metrics.json").rename(tmp_path / "one.json")
    cmd = [PY, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "genzoo"]
    r = subprocess.run([*cmd, *evaluate], capture_output=True, text=True, timeout=180, env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-2000:]
    one, two = _metric_values(tmp_path / "one.json"), _metric_values(run / "metrics.json")
    assert {"kid[inception-v3]", "is[inception-v3]", "nll[k=100]", "elbo", "rec_mse"} <= one.keys() == two.keys()
    for k in one:
        assert abs(one[k] - two[k]) <= 1e-6 * max(1.0, abs(one[k])), (k, one[k], two[k])


def test_shards_and_gather_rows_single_process():
    from genzoo.training.distributed import Dist, shard

    for n in (1, 2, 7, 300, 301):
        for world in (1, 2, 3):
            parts = [shard(n, r, world) for r in range(world)]
            assert parts[0].start == 0 and parts[-1].stop == n
            assert all(p.stop == q.start for p, q in zip(parts, parts[1:]))
            assert max(p.stop - p.start for p in parts) - min(p.stop - p.start for p in parts) <= 1
    x = torch.arange(10)
    assert torch.equal(Dist().map_rows(lambda t: t * 2, x), x * 2)


def test_rank_dropout_stream_leaves_the_shared_generator_alone():
    from genzoo.training.distributed import Dist
    from genzoo.training.rank_rng import RankRNG

    def masks(seed: int, rank: int, rng_state=None):
        net = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.Dropout(0.5))
        rr = RankRNG(seed, rank)
        if rng_state is not None:
            assert rr.load(rng_state, Dist(rank=rank, world=rng_state.shape[0]))
        assert rr.attach([net]) == 1
        torch.manual_seed(123)
        before = torch.get_rng_state()
        out = (net(torch.ones(8, 4)) == 0)
        assert torch.equal(torch.get_rng_state(), before)  # the shared stream did not move
        return out, rr.cpu.unsqueeze(0)

    (a0, s0), (a1, s1), (b0, _) = masks(0, 0), masks(0, 1), masks(0, 0)
    assert torch.equal(a0, b0) and not torch.equal(a0, a1)  # per (seed, rank), reproducible
    assert not torch.equal(masks(1, 0)[0], a0)
    states = torch.cat([s0, s1])  # what a 2-rank checkpoint holds
    nxt = masks(0, 1, states)[0]  # rank 1's stream continues where it was saved
    assert not torch.equal(nxt, a1)
    rr = RankRNG(0, 1)
    assert not rr.load(states[:1], Dist(rank=1, world=2))  # another world size: stays freshly seeded


def test_unreachable_rendezvous_ends_in_bounded_time(tmp_path):
    port = free_port()  # closed: nothing listens there
    args = ["train", "wgan-gp", "--dataset", "toy:ring8", "--set", "model.mlp_hidden=16", "--batch-size", "16",
            "--steps", "2", *QUIET]
    # genzoo joining a process group whose store cannot be reached: one line after GENZOO_DIST_TIMEOUT
    e = dict(env(), RANK="1", LOCAL_RANK="1", WORLD_SIZE="2", LOCAL_WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
             MASTER_PORT=str(port), GENZOO_DIST_TIMEOUT="5")
    t0 = time.time()
    r = subprocess.run([PY, "-m", "genzoo", *args, "--out", str(tmp_path / "a")], capture_output=True, text=True,
                       timeout=90, env=e)
    assert time.time() - t0 < 60 and r.returncode == 2, r.stderr[-1500:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("genzoo: error: rank 1 could not join the process group at "
                                                   f"127.0.0.1:{port}"), r.stderr[-1500:]
    # torchrun waiting for a second node that never comes: its own error after join_timeout, not a hang
    t0 = time.time()
    r = subprocess.run([PY, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                        "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{free_port()}",
                        "--rdzv_conf", "join_timeout=5", "-m", "genzoo", *args, "--out", str(tmp_path / "b")],
                       capture_output=True, text=True, timeout=90, env=env())
    assert time.time() - t0 < 60 and r.returncode != 0, r.stderr[-1500:]
    assert not (tmp_path / "b").exists()
