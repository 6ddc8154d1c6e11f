"""The one training loop, for every recipe: GANs (Algorithm 1 of Goodfellow et al. 2014), AEs, VAEs, pix2pix.

The loop only schedules. Each step is ``algo.train_step``: for an adversarial algo ``n_critic``
discriminator steps on fresh batches and ``g_steps`` generator steps (one, but for GANs that ask for more);
otherwise one ``step`` on one batch. The loop
logs scalars to ``log.jsonl``, renders the fixed noise to ``samples/step_NNNNNN.png``,
and writes checkpoints atomically, also on Ctrl-C or SIGTERM. Resuming restores weights,
optimizer moments, RNG states and the data order, so a resumed run equals a straight one.

Under torchrun every rank runs this loop on its share of each global batch (genzoo.training.distributed):
scalars are averaged over the ranks in one all_reduce per step, which also carries the stop flag (a signal on
any rank stops every rank after the same step); rank 0 alone writes files and runs the watchers, whose
decision it broadcasts.
"""
from __future__ import annotations

import contextlib
import functools
import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from genzoo.training import checkpoint
from genzoo.algos.base import Algo
from genzoo.training.build import build_algo, check_labels, dataset_for
from genzoo.config import Config
from genzoo.data import BatchSampler, Dataset, place
from genzoo.training import distributed
from genzoo.training.distributed import Dist
from genzoo.training.launcher import is_collective_error, one_line_collective_error
from genzoo.training.rank_rng import RankRNG
from genzoo.nets.sync_bn import convert_sync_bn
from genzoo.training.watch import Alert, Monitor, actions
from genzoo.errors import GenzooError, Interrupted
from genzoo.training.checkpoint import ckpt_dir
from genzoo.training.alerts import handle_alerts, rollback
from genzoo.training.rundir import make_progress_gif, render, resume_run, rng_state, start_run


class StopOnSignal:
    """Turn the first SIGINT/SIGTERM into a flag checked between steps; a second one aborts."""

    def __init__(self):
        self.signum, self._old = None, {}

    def _handler(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


@dataclass
class Session:
    """Everything one training run holds while it trains; ``save`` writes a checkpoint of all of it."""
    run: Path
    cfg: Config
    data: Dataset
    algo: Algo
    sampler: BatchSampler
    monitor: Monitor | None  # rank 0 only
    fixed: object  # the inputs rendered into every sample grid
    dist: Dist = field(default_factory=Dist)
    rank_rng: RankRNG | None = None  # under torchrun: each rank's own dropout stream
    batches: Dataset | None = None   # what training batches come from: ``data``, or its copy on the GPU

    @property
    def watching(self) -> bool:
        return self.cfg.watch.enabled and self.cfg.family == "gan"

    def wants_probe(self, step: int) -> bool:  # Monitor.wants_probe, known on every rank
        return self.watching and self.cfg.watch.every > 0 and step % self.cfg.watch.every == 0

    def save(self, step: int) -> None:
        """Every rank calls this: rank 0's batch-norm statistics reach all ranks, the weights are checked
        to be the same everywhere, then rank 0 alone writes (atomically) while the others wait."""
        d = self.dist
        d.sync_buffers(self.algo.nets.values())
        d.check_same_weights(self.algo.nets.values())
        d.on_main(self._write, step, self.rank_rng.gathered(d) if self.rank_rng is not None else None)

    def _write(self, step: int, dropout_rng: torch.Tensor | None = None) -> None:
        rng = rng_state() if dropout_rng is None else {**rng_state(), "dropout": dropout_rng}
        state = {"algo": self.algo.state_dict(), "sampler": self.sampler.state_dict(), "rng": rng}
        meta = {"config": self.cfg.to_dict(), "data_shape": list(self.data.sample_shape),
                "world_size": self.dist.world}
        if self.data.files_sha256() is not None:
            meta["data_sha256"] = self.data.files_sha256()
        checkpoint.save(ckpt_dir(self.run), step, state, meta)
        checkpoint.prune(ckpt_dir(self.run), self.cfg.train.keep_ckpts)

    def next_batch(self) -> dict:
        return (self.batches or self.data).batch(self.sampler.next())


def train(cfg: Config, out: Path, resume: bool = False, progress: bool = True,
          on_checkpoint: Callable[[Path], None] | None = None, on_start: Callable[[Path, dict], None] | None = None,
          on_log: Callable[[dict], None] | None = None) -> Path:
    """Train ``cfg`` into run directory ``out`` (``resume``: continue it exactly from its latest checkpoint).
    Callbacks, on rank 0 only: ``on_checkpoint(run)`` after each checkpoint and at the end (the API writes the
    report there); ``on_start(run, info)`` once the run is open (info: start step, resolved device, precision,
    world size); ``on_log(record)`` with every record written to log.jsonl (scalar rows, alerts, rollbacks) and
    ``{"step": N, "grid": PATH}`` for each fixed-noise grid (the API's TensorBoard writer).
    Under torchrun (WORLD_SIZE > 1) every rank calls this; a lost peer is one line on every other rank."""
    d = distributed.setup(cfg.train.device)
    try:
        return _train(cfg, Path(out), resume, progress, (on_checkpoint, on_start, on_log), d)
    except RuntimeError as e:
        if d.active and is_collective_error(e):
            raise one_line_collective_error(e, d.rank, out) from None
        raise
    finally:
        d.close()


def _train(cfg: Config, out: Path, resume: bool, progress: bool, hooks: tuple, d: Dist) -> Path:
    on_checkpoint, on_start, on_log = hooks
    s, start = _open_session(cfg, out, resume, d)
    T, run, main = cfg.train, s.run, d.is_main
    if main and on_start:
        on_start(run, {"step": start, "device": str(s.algo.device), "precision": s.algo.precision,
                       "world_size": d.world})
    step, rollbacks, meter = start, 0, _Throughput(start, T.batch_size * s.algo.batches_per_step(T.n_critic))
    stopping = out_of_time = False  # every rank agrees on them: the flags travel in the step's all_reduce
    deadline = time.monotonic() + T.minutes * 60 if T.minutes else math.inf
    saved = f"checkpoint saved. Continue with: genzoo train --resume {run}"  # after Ctrl-C and a spent budget
    with StopOnSignal() as stop, (open(run / "log.jsonl", "a") if main else contextlib.nullcontext()) as log, \
            tqdm(total=T.steps, initial=start, desc=f"{cfg.recipe}", unit="step", disable=not (progress and main),
                 dynamic_ncols=True) as bar:
        log = _Tee(log, on_log) if main and on_log else log
        while step < T.steps and not (stopping or out_of_time) and (d.active or stop.signum is None):
            step += 1
            s.algo.probe = s.wants_probe(step)
            scalars = s.algo.train_step(s.next_batch, T.n_critic, T.g_steps)
            scalars, (stopping, out_of_time) = d.mean_scalars(scalars, stop.signum is not None,
                                                              time.monotonic() >= deadline)
            if "fp16_skipped" in scalars:  # an overflow the scaler skipped (it then lowers its factor): not divergence
                scalars = {k: v for k, v in scalars.items() if math.isfinite(v)}
            alerts = _alerts(s, step, scalars)
            last = step == T.steps or out_of_time
            if main and (step % T.log_every == 0 or last or s.algo.probe or alerts):
                _log_scalars(log, bar, step, meter.add(step, scalars, step % T.log_every == 0))
            if alerts and handle_alerts(alerts, actions(cfg), log, s.save, step) == "rollback":
                rollbacks += 1
                step = rollback(s, alerts, log, step, rollbacks)
                bar.n = step
                bar.refresh()
                continue
            if main and (step % T.sample_every == 0 or last or step == 1):
                render(s.algo, s.fixed, s.data, run / "samples" / f"step_{step:06d}.png", title=f"step {step}")
                if on_log:
                    on_log({"step": step, "grid": str(run / "samples" / f"step_{step:06d}.png")})
            if step % T.ckpt_every == 0 or last:
                s.save(step)
                if main and on_checkpoint and not last:
                    on_checkpoint(run)
            bar.update(1)
        if stopping if d.active else stop.signum is not None:
            s.save(step)
            raise Interrupted(f"interrupted at step {step}; {saved}")
    if main and out_of_time and step < T.steps:  # a short run's poor samples should not pass for the recipe's
        tqdm.write(f"genzoo: the {T.minutes:g}-minute budget ran out at step {step} of {T.steps}; {saved}",
                   file=sys.stderr)
    if main:
        make_progress_gif(run)
        if on_checkpoint:
            on_checkpoint(run)
    d.barrier()
    return run


def _alerts(s: Session, step: int, scalars: dict) -> list[Alert]:
    """The watchers' alerts (rank 0 decides, every rank receives them); without watchers, NaN/Inf stops."""
    if not s.watching:
        return _check_finite(scalars, step)
    alerts = s.monitor.update(step, scalars) if s.monitor is not None else None
    return s.dist.broadcast(alerts) if s.dist.active else alerts


def _open_session(cfg: Config, run: Path, resume: bool, d: Dist = Dist()) -> tuple[Session, int]:
    """Data, model, sampler and watchers for a new run, or restored from the latest checkpoint; the start step."""
    T = cfg.train
    if d.active:
        distributed.check_batch(T.batch_size, d.world, cfg.model.pack if cfg.family == "gan" else 1)
    torch.manual_seed(T.seed)  # network initialisation depends on the seed only
    data = dataset_for(cfg)
    check_labels(cfg, data)
    algo = build_algo(cfg, data.sample_shape, device=d.device)
    _record_shape(cfg, data.sample_shape)
    rank_rng = None
    if d.active:  # every rank holds the same weights (same seed); gradients are averaged before each step
        algo.rank, algo.world = d.rank, d.world
        if T.sync_bn:
            for name, net in algo.nets.items():
                if name != "G_ema":
                    convert_sync_bn(net, d.device)
        algo.reduce_grads = functools.partial(distributed.reduce_gradients, world=d.world)
        rank_rng = RankRNG(T.seed, d.rank)
        rank_rng.attach(algo.nets.values())
    if T.compile:  # the trained nets' forward through torch.compile (inductor); weights and checkpoints unchanged
        for name, net in algo.nets.items():
            if name != "G_ema":  # sampling nets stay eager
                net.compile()
    sampler = BatchSampler(len(data), T.batch_size, seed=T.seed, rank=d.rank, world=d.world)
    start = (d.agree(resume_run, run, algo, sampler, d, rank_rng, data if d.is_main else None) if resume
             else d.agree(start_run, run, cfg, d))
    if start >= T.steps:
        raise GenzooError(f"{run} is already at step {start}; pass --steps N with N > {start} to train further")
    fixed = algo.preview_inputs(data, T.n_grid, torch.Generator().manual_seed(T.seed + 1))
    with torch.random.fork_rng(devices=[]):  # building the watchers must not move the training RNG
        make = (lambda: Monitor(cfg, algo, data)) if d.is_main and cfg.watch.enabled and cfg.family == "gan" \
            else (lambda: None)
        monitor = d.agree(make)
    s = Session(run, cfg, data, algo, sampler, monitor, fixed, d, rank_rng, place(data, algo.device)[0])
    if s.watching and "rollback" in actions(cfg).values() and start == 0:
        s.save(0)  # a good state to roll back to even if the first steps already go wrong
    return s, start


class _Throughput:
    """Images per second between logged steps, added to the scalars of every ``log_every``-th step."""

    def __init__(self, step: int, images_per_step: int):
        self.t, self.step, self.per_step = time.perf_counter(), step, images_per_step

    def add(self, step: int, scalars: dict, due: bool) -> dict:
        if due:
            now = time.perf_counter()
            scalars["img_per_s"] = (step - self.step) * self.per_step / max(now - self.t, 1e-9)
            self.t, self.step = now, step
        return {"step": step, **scalars}


class _Tee:
    """The log file, with every JSON line written to it also passed to ``on_log`` as a dict."""

    def __init__(self, fh, on_log: Callable[[dict], None]):
        self.fh, self.on_log = fh, on_log

    def write(self, text: str) -> int:
        n = self.fh.write(text)
        for ln in text.splitlines():
            if ln.strip():
                self.on_log(json.loads(ln))
        return n

    def flush(self) -> None:
        self.fh.flush()


def _log_scalars(log, bar, step: int, row: dict) -> None:
    log.write(json.dumps({k: (v if k == "step" else _round(v)) for k, v in row.items()}) + "\n")
    log.flush()
    bar.set_postfix({k: f"{row[k]:.4g}" for k in ("loss_d", "loss_g", "elbo", "rec", "kl", "iwae") if k in row})


def _record_shape(cfg: Config, shape: tuple[int, ...]) -> None:
    """config.yaml says what the data became: image size and channels (pix2pix: the target's channels)."""
    if len(shape) == 3:
        cfg.data.channels = cfg.data.channels or shape[0]
        cfg.data.image_size = cfg.data.image_size or shape[-1]
    elif len(shape) == 4:
        cfg.data.image_size = cfg.data.image_size or shape[-1]


def _check_finite(scalars: dict, step: int) -> list:
    """Without watchers, a NaN/Inf loss still stops the run."""
    bad = [k for k, v in scalars.items() if not np.isfinite(v)]
    if bad:
        raise GenzooError(f"training diverged at step {step}: {', '.join(bad)} is NaN or Inf; "
                          "lower the learning rates or resume from an earlier checkpoint")
    return []


def _round(v: float) -> float | None:
    return round(v, 6) if np.isfinite(v) else None  # JSON has no NaN; null marks a non-finite value


