"""A run directory while it trains: creating it, resuming it exactly (weights, optimizer moments, data order,
RNG states), trimming its log back to a checkpoint, and the sample grids and progress GIF it holds."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from PIL import Image

from genzoo import images
from genzoo.algos.base import Algo
from genzoo.config import Config
from genzoo.data import BatchSampler, Dataset, to_uint8
from genzoo.errors import GenzooError
from genzoo.io import atomic_write_bytes
from genzoo.training import checkpoint
from genzoo.training.checkpoint import ckpt_dir
from genzoo.training.distributed import Dist
from genzoo.training.fits import check_state


def start_run(run: Path, cfg: Config, d: Dist = Dist()) -> int:
    if checkpoint.latest(ckpt_dir(run)) is not None:
        raise GenzooError(f"{run} already holds a run; continue it with --resume {run} or choose another --out")
    if not d.is_main:  # rank 0 writes no checkpoint here, so the other ranks' check above is not racing it
        return 0
    (run / "samples").mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run / "config.yaml", cfg.to_yaml().encode())
    atomic_write_bytes(run / "log.jsonl", b"")
    return 0


def resume_run(run: Path, algo: Algo, sampler: BatchSampler, d: Dist = Dist(), rank_rng=None,
               data: Dataset | None = None) -> int:
    """Restore the latest checkpoint; ``data`` (given on rank 0) must be the data it records (``data_sha256``)."""
    path = checkpoint.latest(ckpt_dir(run))
    if path is None:
        raise GenzooError(f"{run}: nothing to resume (no checkpoints/step_*.json)")
    meta = checkpoint.read_meta(path)
    if data is not None:
        check_same_data(run, path, meta, data)
    step = restore(path, algo, sampler, rank_rng, d)
    saved_world = meta.get("world_size", 1)
    if d.is_main:
        if saved_world != d.world:
            warnings.warn(f"{path.name} was written by {saved_world} process(es), this run has {d.world}: it "
                          "continues with the same data order and random draws, but not bit-exactly "
                          "(another reduction order)", stacklevel=2)
        trim_log(run / "log.jsonl", step)  # drop lines written after the checkpoint by the interrupted run
    return step


def check_same_data(run: Path, path: Path, meta: dict, data: Dataset) -> None:
    """Refuse to resume on other images or labels than those the checkpoint was written on (checkpoints from
    before ``data_sha256`` existed are not checked)."""
    saved, now = meta.get("data_sha256"), data.files_sha256()
    if saved is None or now is None or saved == now:
        return
    spec, root = data.name, (meta.get("config") or {}).get("data", {}).get("root")
    if spec.startswith("folder:"):
        todo = f"restore the files under {spec.partition(':')[2]} as they were"
    elif spec == "embedded":  # shipped inside genzoo: only another genzoo version can change it
        todo = "resume with the genzoo version that wrote the run"
    else:
        todo = "point --data-root at the files the run used" + (f" (it had {root})" if root else "")
    raise GenzooError(f"{run}: these are not the data the run trained on (other images or labels: the checkpoint "
                      f"{path.name} records SHA-256 {saved[:12]}..., the files found give {now[:12]}...); "
                      f"{todo}, or start a new run with another --out")


def restore(path: Path, algo: Algo, sampler: BatchSampler, rank_rng=None, d: Dist = Dist()) -> int:
    """Weights, optimizer state, data position and RNG states from a checkpoint; returns its step.
    ``rank_rng`` (under torchrun): this rank's dropout stream, when the checkpoint has one for this world size."""
    state, meta = checkpoint.load(path)
    check_state(state, algo, path)  # a damaged or foreign checkpoint is one line, not a traceback
    algo.load_state_dict(state["algo"])
    sampler.load_state_dict(state["sampler"])
    set_rng_state(state["rng"])
    if rank_rng is not None:
        rank_rng.load(state["rng"].get("dropout"), d)
    return int(meta["step"])


def trim_log(path: Path, step: int, keep_events: bool = False) -> None:
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


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
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
