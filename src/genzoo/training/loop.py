"""The one training loop, for every recipe: GANs (Algorithm 1 of Goodfellow et al. 2014), AEs, VAEs, pix2pix.

The loop only schedules. Each step is ``algo.train_step``: for an adversarial algo ``n_critic``
discriminator steps on fresh batches and one generator step; otherwise one ``step`` on one batch. The loop
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
import json
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from genzoo import images
from genzoo.training import checkpoint
from genzoo.algos.base import Algo
from genzoo.training.build import build_algo, check_labels, dataset_for
from genzoo.config import Config
from genzoo.data import BatchSampler, Dataset, to_uint8
from genzoo.training import distributed
from genzoo.training.distributed import Dist
from genzoo.training.watch import Alert, Monitor, actions
from genzoo.errors import GenzooError
from genzoo.io import atomic_write_bytes
from genzoo.training.checkpoint import ckpt_dir


class Interrupted(GenzooError):
    """Training stopped by a signal after saving a checkpoint."""


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
        d.on_main(self._write, step)

    def _write(self, step: int) -> None:
        state = {"algo": self.algo.state_dict(), "sampler": self.sampler.state_dict(), "rng": _rng_state()}
        meta = {"config": self.cfg.to_dict(), "data_shape": list(self.data.sample_shape),
                "world_size": self.dist.world}
        checkpoint.save(ckpt_dir(self.run), step, state, meta)
        checkpoint.prune(ckpt_dir(self.run), self.cfg.train.keep_ckpts)

    def next_batch(self) -> dict:
        return self.data.batch(self.sampler.next())


def train(cfg: Config, out: Path, resume: bool = False, progress: bool = True,
          on_checkpoint: Callable[[Path], None] | None = None) -> Path:
    """Train ``cfg`` into run directory ``out`` (``resume``: continue it exactly from its latest checkpoint).
    ``on_checkpoint(run)`` is called after each checkpoint and at the end (the API writes the report there).
    Under torchrun (WORLD_SIZE > 1) every rank calls this; a lost peer is one line on every other rank."""
    d = distributed.setup(cfg.train.device)
    try:
        return _train(cfg, Path(out), resume, progress, on_checkpoint, d)
    except RuntimeError as e:
        if d.active and distributed.is_collective_error(e):
            raise distributed.one_line_collective_error(e, d.rank, out) from None
        raise
    finally:
        d.close()


def _train(cfg: Config, out: Path, resume: bool, progress: bool, on_checkpoint, d: Dist) -> Path:
    s, start = _open_session(cfg, out, resume, d)
    T, run, main = cfg.train, s.run, d.is_main
    step, rollbacks, meter = start, 0, _Throughput(start, T.batch_size * s.algo.batches_per_step(T.n_critic))
    stopping = False  # every rank agrees on it: the flag travels in the step's all_reduce
    with StopOnSignal() as stop, (open(run / "log.jsonl", "a") if main else contextlib.nullcontext()) as log, \
            tqdm(total=T.steps, initial=start, desc=f"{cfg.recipe}", unit="step", disable=not (progress and main),
                 dynamic_ncols=True) as bar:
        while step < T.steps and not stopping and (d.active or stop.signum is None):
            step += 1
            s.algo.probe = s.wants_probe(step)
            scalars = s.algo.train_step(s.next_batch, T.n_critic)
            scalars, stopping = d.mean_scalars(scalars, stop.signum is not None)
            alerts = _alerts(s, step, scalars)
            if main and (step % T.log_every == 0 or step == T.steps or s.algo.probe or alerts):
                _log_scalars(log, bar, step, meter.add(step, scalars, step % T.log_every == 0))
            if alerts and _handle_alerts(alerts, actions(cfg), log, s.save, step) == "rollback":
                rollbacks += 1
                step = _rollback(s, alerts, log, step, rollbacks)
                bar.n = step
                bar.refresh()
                continue
            if main and (step % T.sample_every == 0 or step == T.steps or step == 1):
                render(s.algo, s.fixed, s.data, run / "samples" / f"step_{step:06d}.png", title=f"step {step}")
            if step % T.ckpt_every == 0 or step == T.steps:
                s.save(step)
                if main and on_checkpoint and step < T.steps:
                    on_checkpoint(run)
            bar.update(1)
        if stopping if d.active else stop.signum is not None:
            s.save(step)
            raise Interrupted(f"interrupted at step {step}; checkpoint saved. "
                              f"Continue with: genzoo train --resume {run}")
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
    if d.active:  # every rank holds the same weights (same seed); gradients are averaged before each step
        algo.rank, algo.world = d.rank, d.world
        if T.sync_bn:
            for name, net in algo.nets.items():
                if name != "G_ema":
                    distributed.convert_sync_bn(net, d.device)
        distributed.average_gradients(algo.opts, d.world)
    sampler = BatchSampler(len(data), T.batch_size, seed=T.seed, rank=d.rank, world=d.world)
    start = d.agree(_resume, run, algo, sampler, d) if resume else d.agree(_new_run, run, cfg, d)
    if start >= T.steps:
        raise GenzooError(f"{run} is already at step {start}; pass --steps N with N > {start} to train further")
    fixed = algo.preview_inputs(data, T.n_grid, torch.Generator().manual_seed(T.seed + 1))
    with torch.random.fork_rng(devices=[]):  # building the watchers must not move the training RNG
        make = (lambda: Monitor(cfg, algo, data)) if d.is_main and cfg.watch.enabled and cfg.family == "gan" \
            else (lambda: None)
        monitor = d.agree(make)
    s = Session(run, cfg, data, algo, sampler, monitor, fixed, d)
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


def _handle_alerts(alerts: list[Alert], actions: dict[str, str], log, save, step: int) -> str:
    """Log and show each alert (``log`` is None on ranks other than 0), then apply the strongest action:
    stop > rollback > warn. Every rank calls this with the same alerts."""
    acts = []
    for a in alerts:
        act = actions[a.name]
        acts.append(act)
        if log is not None:
            log.write(json.dumps(a.event(act)) + "\n")
            tqdm.write(f"genzoo: alert: {a.message} [{act}]", file=sys.stderr)
    if log is not None:
        log.flush()
    if "stop" in acts:
        diverged = any(a.name == "divergence" for a in alerts)
        if not diverged:
            save(step)
        names = ", ".join(sorted({a.name for a in alerts}))
        raise GenzooError(f"stopped at step {step} by alert {names} (watch.<name>=stop); "
                          + ("the weights are not saved, earlier checkpoints are intact" if diverged
                             else "checkpoint saved"))
    return "rollback" if "rollback" in acts else "warn"


def _rollback(s: Session, alerts: list[Alert], log, step: int, rollbacks: int) -> int:
    """Restore the latest checkpoint from before the failure began and scale both learning rates."""
    W = s.cfg.watch
    if rollbacks > W.max_rollbacks:
        raise GenzooError(f"stopped at step {step}: still failing after {W.max_rollbacks} rollbacks; "
                          "lower the learning rates and start again")
    onset = min(a.onset for a in alerts)
    good = [p for p in checkpoint.list_checkpoints(ckpt_dir(s.run)) if checkpoint.step_of(p) < onset]
    if not good:
        raise GenzooError(f"rollback at step {onset}: no checkpoint from before step {onset}; "
                          "lower train.ckpt_every")
    path = good[-1]
    current = {name: [g["lr"] for g in opt.param_groups] for name, opt in s.algo.opts.items()}
    back = _restore(path, s.algo, s.sampler)  # every rank restores the same checkpoint ...
    s.dist.barrier()  # ... before rank 0 deletes the later ones
    lrs = {}
    for name, opt in s.algo.opts.items():  # lower the rates in force now (the checkpoint may hold higher ones)
        for group, lr in zip(opt.param_groups, current[name]):
            group["lr"] = lr * W.lr_factor
        lrs[f"lr_{name.lower()}"] = opt.param_groups[0]["lr"]
    if not s.dist.is_main:
        s.dist.barrier()
        return back
    for later in checkpoint.list_checkpoints(ckpt_dir(s.run)):  # they hold the failing weights
        if checkpoint.step_of(later) > back:
            later.with_suffix(".safetensors").unlink(missing_ok=True)
            later.unlink(missing_ok=True)
    _trim_log(s.run / "log.jsonl", back, keep_events=True)
    log.write(json.dumps({"step": back, "event": "rollback", "from_step": max(a.step for a in alerts),
                          "checkpoint": path.name, **lrs}) + "\n")
    log.flush()
    tqdm.write(file=sys.stderr, s=f"genzoo: rolled back to step {back} ({path.name}); learning rates now "
               + ", ".join(f"{k} = {v:.3g}" for k, v in lrs.items()))
    s.monitor.reset()
    s.dist.barrier()
    return back


def _new_run(run: Path, cfg: Config, d: Dist = Dist()) -> int:
    if checkpoint.latest(ckpt_dir(run)) is not None:
        raise GenzooError(f"{run} already holds a run; continue it with --resume {run} or choose another --out")
    if not d.is_main:  # rank 0 writes no checkpoint here, so the other ranks' check above is not racing it
        return 0
    (run / "samples").mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run / "config.yaml", cfg.to_yaml().encode())
    atomic_write_bytes(run / "log.jsonl", b"")
    return 0


def _resume(run: Path, algo: Algo, sampler: BatchSampler, d: Dist = Dist()) -> int:
    path = checkpoint.latest(ckpt_dir(run))
    if path is None:
        raise GenzooError(f"{run}: nothing to resume (no checkpoints/step_*.json)")
    step = _restore(path, algo, sampler)
    saved_world = checkpoint.read_meta(path).get("world_size", 1)
    if d.is_main:
        if saved_world != d.world:
            warnings.warn(f"{path.name} was written by {saved_world} process(es), this run has {d.world}: it "
                          "continues with the same data order and random draws, but not bit-exactly "
                          "(another reduction order)", stacklevel=2)
        _trim_log(run / "log.jsonl", step)  # drop lines written after the checkpoint by the interrupted run
    return step


def _restore(path: Path, algo: Algo, sampler: BatchSampler) -> int:
    """Weights, optimizer state, data position and RNG states from a checkpoint; returns its step."""
    state, meta = checkpoint.load(path)
    checkpoint.check_state(state, algo, path)  # a damaged or foreign checkpoint is one line, not a traceback
    algo.load_state_dict(state["algo"])
    sampler.load_state_dict(state["sampler"])
    _set_rng_state(state["rng"])
    return int(meta["step"])


def _trim_log(path: Path, step: int, keep_events: bool = False) -> None:
    """Drop log lines after ``step`` (alert and rollback events too, unless ``keep_events``).
    Safe with a handle open in append mode: its writes go to the new end of the file."""
    if not path.exists():
        return
    keep = []
    for ln in path.read_text().splitlines():
        try:
            rec = json.loads(ln) if ln.strip() else None
        except ValueError:
            warnings.warn(f"{path}: dropped a damaged line (a write cut short by a crash)", stacklevel=2)
            continue
        if rec is not None and (rec.get("step", 0) <= step or (keep_events and "event" in rec)):
            keep.append(ln)
    # rewritten in place, not replaced: the loop's append handle must keep writing to this file
    path.write_text("".join(ln + "\n" for ln in keep))


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def render(algo: Algo, z, data: Dataset, path: Path, title: str = "") -> None:
    """Fixed-noise samples (pix2pix: fixed pairs) as an image grid, or a scatter plot for 2-D points."""
    x = algo.preview(z)
    path.parent.mkdir(parents=True, exist_ok=True)
    if data.is_image:
        images.save_grid(path, to_uint8(x), nrow=algo.preview_nrow)
    else:
        centers = data.meta.get("centers")
        lim = float(data.x.abs().max()) * 1.3
        images.scatter_png(x.cpu().numpy(), path, None if centers is None else centers.numpy(), title, lim)


def make_progress_gif(run: Path) -> None:
    frames = sorted((run / "samples").glob("step_*.png"))
    if frames:
        images.save_gif(run / "progress.gif", [Image.open(f).convert("RGB") for f in frames])
