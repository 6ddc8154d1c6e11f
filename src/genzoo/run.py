"""Run directories: what is in them, and how to reopen one.

    RUN_DIR/config.yaml          the resolved config (every field, after --set)
    RUN_DIR/log.jsonl            one JSON object per logged step (losses, D outputs, images/s)
    RUN_DIR/samples/step_*.png   the fixed-noise grid over training; progress.gif assembles them
    RUN_DIR/checkpoints/         step_NNNNNN.safetensors + step_NNNNNN.json
"""
from __future__ import annotations

from pathlib import Path

import torch

from genzoo.training import checkpoint
from genzoo.algos.base import Algo, resolve_device
from genzoo.training.build import build_algo
from genzoo.config import Config, load_config_file
from genzoo.errors import GenzooError


def ckpt_dir(run: Path) -> Path:
    return Path(run) / "checkpoints"


def open_run(run: Path, device: str | None = None) -> tuple[Config, Algo, dict]:
    """Rebuild the algo of a run from its config and load its latest checkpoint's weights."""
    run = Path(run)
    if not run.is_dir():
        raise GenzooError(f"{run}: no such run directory")
    cfg = load_config_file(run / "config.yaml")
    path = checkpoint.latest(ckpt_dir(run))
    if path is None:
        raise GenzooError(f"{run}: no checkpoint yet (train it first, or wait for the first save)")
    state, meta = checkpoint.load(path)
    dev = resolve_device(device or cfg.train.device)
    torch.manual_seed(0)
    algo = build_algo(cfg, tuple(meta["data_shape"]), dev)
    algo.load_state_dict(state["algo"])
    return cfg, algo, meta
