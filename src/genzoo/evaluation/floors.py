"""The real-data floor of a dataset, kept where the report finds it: ``~/.cache/genzoo/floors/DATASET.json``.

`genzoo evaluate --real DATASET` (``evaluate_real``) measures real train images against the test split exactly
as a model would be measured, and keeps its result here (besides any ``--out``); the report shows each metric's
floor beside the model's value.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from genzoo.errors import GenzooError
from genzoo.io import atomic_write_bytes


def floor_path(spec: str) -> Path:
    from genzoo.data.mnist import cache_dir
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec)
    return cache_dir() / "floors" / f"{safe}.json"


def save(spec: str, result: dict) -> Path | None:
    """Keep ``result`` as the floor of ``spec`` (rank 0 alone under torchrun); a cache that cannot be written
    only warns."""
    from genzoo.training.distributed import is_main_process
    if not is_main_process():
        return None
    path = floor_path(spec)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(result, indent=1).encode())
    except (OSError, GenzooError) as e:
        warnings.warn(f"the real-data floor was not kept in {path}: {e}")
        return None
    return path


def load(spec: str) -> dict | None:
    """The kept floor of ``spec`` (metrics.json's layout), or None."""
    try:
        d = json.loads(floor_path(spec).read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) and isinstance(d.get("metrics"), dict) else None
