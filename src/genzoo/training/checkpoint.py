"""Checkpoints: tensors in safetensors plus a JSON file for everything else. No pickle.

``checkpoints/step_NNNNNN.safetensors`` holds every tensor of the training state (weights,
optimizer moments, RNG states); ``step_NNNNNN.json`` holds the config, the step, the layout
of the nested state with tensor references, the genzoo version and the SHA-256 of the
tensor file. Both are written to a temp file in the same folder and renamed into place; the
JSON is written last, so a checkpoint without its JSON is never considered.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genzoo.errors import GenzooError
from genzoo.io import atomic_write_bytes, sha256

_NAME = re.compile(r"^step_(\d{6,})\.json$")


def ckpt_dir(run: Path) -> Path:
    """Where a run directory keeps its checkpoints."""
    return Path(run) / "checkpoints"


# -- nested state <-> (JSON skeleton, flat tensors) ---------------------------------------
def flatten(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "") -> Any:
    if torch.is_tensor(obj):
        key = prefix or "_"
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {(f"__int__{k}" if isinstance(k, int) else str(k)): flatten(v, tensors, f"{prefix}.{k}" if prefix else str(k))
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [flatten(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint a {type(obj).__name__} at {prefix}")


def unflatten(skel: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(skel, dict):
        if set(skel) == {"__tensor__"}:
            return tensors[skel["__tensor__"]]
        return {(int(k[7:]) if k.startswith("__int__") else k): unflatten(v, tensors) for k, v in skel.items()}
    if isinstance(skel, list):
        return [unflatten(v, tensors) for v in skel]
    return skel


# -- save / load -----------------------------------------------------------------------------
def save(ckpt_dir: Path, step: int, state: dict, meta: dict) -> Path:
    """Write step_NNNNNN.{safetensors,json} atomically; returns the JSON path."""
    from genzoo import __version__

    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    layout = flatten(state, tensors)
    st_path = ckpt_dir / f"step_{step:06d}.safetensors"
    tmp = st_path.with_name(st_path.name + ".tmp")
    try:
        save_file(tensors, str(tmp))
        os.replace(tmp, st_path)
    except (OSError, SafetensorError) as e:
        tmp.unlink(missing_ok=True)
        raise GenzooError(f"cannot write checkpoint {st_path}: {getattr(e, 'strerror', None) or e}; "
                          "earlier checkpoints are intact") from None
    doc = {"genzoo_version": __version__, "step": step, "tensors": st_path.name,
           "sha256": sha256(st_path), "layout": layout, **meta}
    json_path = ckpt_dir / f"step_{step:06d}.json"
    atomic_write_bytes(json_path, json.dumps(doc, indent=1).encode())
    return json_path


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    return sorted((p for p in ckpt_dir.iterdir() if _NAME.match(p.name)), key=step_of)


def step_of(json_path: Path) -> int:
    """The step a checkpoint's JSON file (step_NNNNNN.json) was saved at."""
    return int(_NAME.match(Path(json_path).name)[1])


def latest(ckpt_dir: Path) -> Path | None:
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def load(json_path: Path) -> tuple[dict, dict]:
    """(state, meta). Verifies the tensor file's hash, so truncation gives a clear error."""
    json_path = Path(json_path)
    try:
        doc = json.loads(json_path.read_text())
        st_path = json_path.with_name(doc["tensors"])
    except (OSError, ValueError, KeyError) as e:
        raise GenzooError(f"{json_path}: unreadable checkpoint metadata ({e.__class__.__name__})") from None
    if not st_path.is_file():
        raise GenzooError(f"{json_path}: its tensor file {st_path.name} is missing")
    if sha256(st_path) != doc.get("sha256"):
        raise GenzooError(f"{st_path}: checkpoint is truncated or corrupt (SHA-256 mismatch); "
                          "delete this step's two files to fall back to an earlier checkpoint")
    try:
        tensors = load_file(str(st_path))
    except (SafetensorError, OSError) as e:
        raise GenzooError(f"{st_path}: not a valid safetensors file ({e})") from None
    state = unflatten(doc.pop("layout"), tensors)
    return state, doc


def prune(ckpt_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (0 keeps everything)."""
    if keep <= 0:
        return
    for j in list_checkpoints(ckpt_dir)[:-keep]:
        j.with_suffix(".safetensors").unlink(missing_ok=True)
        j.unlink(missing_ok=True)
