"""The one training loop: Algorithm 1 of Goodfellow et al. 2014, for every GAN recipe.

Each step takes ``n_critic`` discriminator steps on fresh batches and one generator step;
it logs scalars to ``log.jsonl``, renders the fixed noise to ``samples/step_NNNNNN.png``,
and writes checkpoints atomically, also on Ctrl-C or SIGTERM. Resuming restores weights,
optimizer moments, RNG states and the data order, so a resumed run equals a straight one.
"""
from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from genzoo import checkpoint, images
from genzoo.algos.base import Algo
from genzoo.build import build_algo, dataset_for
from genzoo.config import Config
from genzoo.data import BatchSampler, Dataset, to_uint8
from genzoo.errors import GenzooError
from genzoo.run import ckpt_dir


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


def train(cfg: Config, out: Path, resume: bool = False, progress: bool = True) -> Path:
    run, T = Path(out), cfg.train
    torch.manual_seed(T.seed)  # network initialisation depends on the seed only
    data = dataset_for(cfg)
    algo = build_algo(cfg, data.sample_shape)
    sampler = BatchSampler(len(data), T.batch_size, seed=T.seed)
    start = _resume(run, algo, sampler) if resume else _new_run(run, cfg)
    if start >= T.steps:
        raise GenzooError(f"{run} is already at step {start}; pass --steps N with N > {start} to train further")
    fixed_z = algo.sample_z(T.n_grid if data.is_image else 1000, torch.Generator().manual_seed(T.seed + 1))
    meta = {"config": cfg.to_dict(), "data_shape": list(data.sample_shape)}

    def save(step: int) -> None:
        state = {"algo": algo.state_dict(), "sampler": sampler.state_dict(), "rng": _rng_state()}
        checkpoint.save(ckpt_dir(run), step, state, meta)
        checkpoint.prune(ckpt_dir(run), T.keep_ckpts)

    step, t_last, last_logged = start, time.perf_counter(), start
    with StopOnSignal() as stop, open(run / "log.jsonl", "a") as log, \
            tqdm(total=T.steps, initial=start, desc=f"{cfg.recipe}", unit="step", disable=not progress,
                 dynamic_ncols=True) as bar:
        while step < T.steps and stop.signum is None:
            step += 1
            for _ in range(T.n_critic):
                scalars = algo.d_step(data.batch(sampler.next()))
            scalars.update(algo.g_step(data.batch(sampler.next())))
            if step % T.log_every == 0 or step == T.steps:
                now = time.perf_counter()
                scalars["img_per_s"] = (step - last_logged) * T.batch_size * T.n_critic / max(now - t_last, 1e-9)
                t_last, last_logged = now, step
                log.write(json.dumps({"step": step, **{k: round(v, 6) for k, v in scalars.items()}}) + "\n")
                log.flush()
                _check_finite(scalars, step)
                bar.set_postfix({k: f"{scalars[k]:.3g}" for k in ("loss_d", "loss_g") if k in scalars})
            if step % T.sample_every == 0 or step == T.steps or step == 1:
                render(algo, fixed_z, data, run / "samples" / f"step_{step:06d}.png", title=f"step {step}")
            if step % T.ckpt_every == 0 or step == T.steps:
                save(step)
            bar.update(1)
        if stop.signum is not None:
            save(step)
            raise Interrupted(f"interrupted at step {step}; checkpoint saved. "
                              f"Continue with: genzoo train --resume {run}")
    make_progress_gif(run)
    return run


def _check_finite(scalars: dict, step: int) -> None:
    bad = [k for k, v in scalars.items() if not np.isfinite(v)]
    if bad:
        raise GenzooError(f"training diverged at step {step}: {', '.join(bad)} is NaN or Inf; "
                          "lower the learning rates or resume from an earlier checkpoint")


def _new_run(run: Path, cfg: Config) -> int:
    if checkpoint.latest(ckpt_dir(run)) is not None:
        raise GenzooError(f"{run} already holds a run; continue it with --resume {run} or choose another --out")
    (run / "samples").mkdir(parents=True, exist_ok=True)
    (run / "config.yaml").write_text(cfg.to_yaml())
    (run / "log.jsonl").write_text("")
    return 0


def _resume(run: Path, algo: Algo, sampler: BatchSampler) -> int:
    path = checkpoint.latest(ckpt_dir(run))
    if path is None:
        raise GenzooError(f"{run}: nothing to resume (no checkpoints/step_*.json)")
    state, meta = checkpoint.load(path)
    algo.load_state_dict(state["algo"])
    sampler.load_state_dict(state["sampler"])
    _set_rng_state(state["rng"])
    step = int(meta["step"])
    log = run / "log.jsonl"  # drop log lines written after the checkpoint by the interrupted run
    if log.exists():
        keep = [ln for ln in log.read_text().splitlines() if ln.strip() and json.loads(ln).get("step", 0) <= step]
        log.write_text("".join(ln + "\n" for ln in keep))
    return step


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def render(algo: Algo, z: torch.Tensor, data: Dataset, path: Path, title: str = "") -> None:
    """Fixed-noise samples as an image grid (or a scatter plot for 2-D points)."""
    x = algo.generate(z)
    path.parent.mkdir(parents=True, exist_ok=True)
    if data.is_image:
        grid = images.make_grid(to_uint8(x))
        images.save_png(path, grid, scale=2 if x.shape[-1] <= 32 else 1)
    else:
        centers = data.meta.get("centers")
        lim = float(data.x.abs().max()) * 1.3
        images.scatter_png(x.cpu().numpy(), path, None if centers is None else centers.numpy(), title, lim)


def make_progress_gif(run: Path) -> None:
    frames = sorted((run / "samples").glob("step_*.png"))
    if frames:
        images.save_gif(run / "progress.gif", [Image.open(f).convert("RGB") for f in frames])
