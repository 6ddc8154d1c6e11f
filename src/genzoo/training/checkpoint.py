"""Checkpoints: tensors in safetensors plus a JSON file for everything else. No pickle.

``checkpoints/step_NNNNNN.safetensors`` holds every tensor of the training state (weights,
optimizer moments, RNG states); ``step_NNNNNN.json`` holds the config, the step, the layout
of the nested state with tensor references, the genzoo version and the SHA-256 of the
tensor file, and ``meta_sha256``: the SHA-256 of the JSON body itself (every other field, the tensor
file's hash included, as canonical JSON), so the metadata is covered by the same integrity check as
the tensors. ``data_sha256``, for image data, is the SHA-256 of the training images and labels as read
(``Dataset.files_sha256``): a resume on other data is refused. Both files are written to a temp file
in the same folder and renamed into place; the JSON is written last, so a checkpoint without its JSON is never considered. ``load`` checks the JSON against
a schema and both hashes; ``check_belongs`` and ``check_state`` check that it belongs to a run.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genzoo.config import Config
from genzoo.errors import GenzooError
from genzoo.io import atomic_write_bytes, one_line, sha256

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
MAX_JSON_BYTES = 64 << 20   # a checkpoint's JSON is a few hundred kB; anything far larger is not one
MAX_DEPTH = 32              # the nested state is a handful of levels deep (algo.opts.G.state.0.exp_avg)
# may change when a run is resumed (data.root: where the dataset's files are, for a run moved to another machine)
RESUMABLE_KEYS = ("train.steps", "train.minutes", "train.precision", "train.device", "data.root")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class CheckpointMismatch(GenzooError):
    """The checkpoint is damaged or does not belong to the run it is loaded into."""


def _bad(path: Path, why: str) -> CheckpointMismatch:
    stem = path.with_suffix("").name
    fix = (f"move {stem}.json and {stem}.safetensors out of {path.parent} to fall back to an earlier checkpoint, "
           "or start a new run with another --out")
    return CheckpointMismatch(f"this checkpoint is damaged or belongs to another run: {path}: {why}; {fix}")


def _canonical(doc: dict) -> bytes:
    """The JSON body as hashed: every field but the hash itself, keys sorted, no spaces."""
    body = {k: v for k, v in doc.items() if k != "meta_sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _digest(doc: dict) -> str:
    """SHA-256 over the canonical JSON body and the tensor file's SHA-256 (stored in the body)."""
    return hashlib.sha256(_canonical(doc)).hexdigest()


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
                          "earlier checkpoints are intact; free space or fix permissions, then resume with "
                          "`genzoo train --resume RUN_DIR`") from None
    doc = {"genzoo_version": __version__, "step": step, "tensors": st_path.name,
           "sha256": sha256(st_path), "layout": layout, **meta}
    doc["meta_sha256"] = _digest(doc)
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


def _depth(obj: Any, limit: int) -> int:
    """Nesting depth of a JSON value, walked without recursion (a hostile file cannot blow the stack)."""
    todo, deepest = [(obj, 1)], 0
    while todo:
        o, d = todo.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(o, dict):
            todo += [(v, d + 1) for v in o.values()]
        elif isinstance(o, list):
            todo += [(v, d + 1) for v in o]
    return deepest


def read_meta(json_path: Path) -> dict:
    """A checkpoint's JSON, checked against the schema and its own SHA-256 (the tensors are not read)."""
    json_path = Path(json_path)
    try:
        raw = json_path.read_bytes() if json_path.stat().st_size <= MAX_JSON_BYTES else None
    except OSError as e:
        raise _bad(json_path, f"cannot read it ({e.strerror or e})") from None
    if raw is None:
        raise _bad(json_path, f"the JSON is larger than {MAX_JSON_BYTES >> 20} MB")
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise _bad(json_path, "the JSON is nested too deeply") from None
    except ValueError as e:  # also UnicodeDecodeError
        raise _bad(json_path, f"not valid JSON ({e.__class__.__name__})") from None
    _check_schema(json_path, doc)
    if doc["meta_sha256"] != _digest(doc):
        raise _bad(json_path, "the JSON does not match its SHA-256 (edited or corrupt)")
    return doc


def _check_schema(path: Path, doc: Any) -> None:
    if not isinstance(doc, dict):
        raise _bad(path, "the JSON is not an object")
    if _depth(doc, MAX_DEPTH) > MAX_DEPTH:
        raise _bad(path, f"the JSON is nested deeper than {MAX_DEPTH} levels")
    want = {"genzoo_version": str, "step": int, "tensors": str, "sha256": str, "layout": (dict, list),
            "meta_sha256": str}
    missing = [k for k in want if k not in doc]
    if missing:
        raise _bad(path, "missing " + ", ".join(missing))
    for k, kind in want.items():
        if not isinstance(doc[k], kind) or isinstance(doc[k], bool):
            raise _bad(path, f"'{k}' has the wrong type ({type(doc[k]).__name__})")
    m = _NAME.match(path.name)
    if doc["step"] < 0 or (m and doc["step"] != int(m[1])):
        raise _bad(path, f"'step' is {doc['step']} but the file name says {m[1] if m else 'otherwise'}")
    if doc["tensors"] != path.with_suffix(".safetensors").name:
        raise _bad(path, f"'tensors' names {doc['tensors']!r}, not {path.with_suffix('.safetensors').name}")
    for k in ("sha256", "meta_sha256", "data_sha256"):
        if k in doc and not (isinstance(doc[k], str) and _HEX64.fullmatch(doc[k])):
            raise _bad(path, f"'{k}' is not a SHA-256 hex digest")
    if "data_shape" in doc:
        ds = doc["data_shape"]
        if (not isinstance(ds, list) or not 1 <= len(ds) <= 4
                or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 65536 for d in ds)):
            raise _bad(path, f"'data_shape' is {str(ds)[:60]}, not 1 to 4 positive sizes")
    if "config" in doc and not isinstance(doc["config"], dict):
        raise _bad(path, "'config' is not an object")


def _refs(skel: Any) -> list[str]:
    """Every tensor name the layout refers to (iterative: no recursion on hostile input)."""
    out, todo = [], [skel]
    while todo:
        o = todo.pop()
        if isinstance(o, dict):
            if set(o) == {"__tensor__"}:
                out.append(o["__tensor__"])
            else:
                todo += list(o.values())
        elif isinstance(o, list):
            todo += o
    return out


def load(json_path: Path, expect: Config | None = None) -> tuple[dict, dict]:
    """(state, meta). The JSON is checked against its schema, and the JSON and the tensor file against the
    SHA-256 they were saved with, so truncation, edits and stray files give one clear error. With ``expect``
    (the run's config) the checkpoint must also belong to that run (``check_belongs``)."""
    json_path = Path(json_path)
    doc = read_meta(json_path)
    if expect is not None:
        check_belongs(doc, expect, path=json_path)
    st_path = json_path.with_name(doc["tensors"])
    if not st_path.is_file():
        raise _bad(json_path, f"its tensor file {st_path.name} is missing")
    try:
        ok = sha256(st_path) == doc["sha256"]
    except OSError as e:
        raise _bad(st_path, f"cannot read it ({e.strerror or e})") from None
    if not ok:
        raise _bad(st_path, "the tensor file is truncated or corrupt (SHA-256 mismatch)")
    try:
        tensors = load_file(str(st_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise _bad(st_path, f"not a valid safetensors file ({one_line(e)[:120]})") from None
    refs = _refs(doc["layout"])
    absent = [r for r in refs if not isinstance(r, str) or r not in tensors]
    if absent:
        raise _bad(json_path, f"the layout names tensor {str(absent[0])[:60]!r}, which is not in {st_path.name}")
    try:
        state = unflatten(doc.pop("layout"), tensors)
    except (ValueError, TypeError):
        raise _bad(json_path, "the layout is malformed") from None
    return state, doc


# config keys a run may leave as None and then writes as the data's own: a None on one side matches any value
RESOLVED_BY_RUN = ("data.image_size", "data.channels")

def check_belongs(meta: dict, cfg: Config, data_shape: tuple[int, ...] | list[int] | None = None,
                  path: Path | str = "checkpoint") -> None:
    """Refuse a checkpoint (its metadata) that was not written by the run of ``cfg``: another recipe, z_dim,
    width, dataset ... (only the RESUMABLE_KEYS may differ), or another data shape."""
    saved = meta.get("config")
    if not isinstance(saved, dict):
        raise _bad(Path(str(path)), "it records no config")
    try:
        theirs = Config.from_dict(saved, source=f"{path} config")
    except GenzooError as e:
        raise _bad(Path(str(path)), f"its config is invalid ({one_line(e)[:150]})") from None
    a, b = _flat(theirs.to_dict()), _flat(cfg.to_dict())
    diff = [k for k in sorted(set(a) | set(b)) if k not in RESUMABLE_KEYS and a.get(k) != b.get(k)
            and not (k in RESOLVED_BY_RUN and None in (a.get(k), b.get(k)))]
    if diff:
        k = diff[0]
        raise _bad(Path(str(path)), f"it was saved with {k}={a.get(k)!r}, this run has {k}={b.get(k)!r}"
                   + (f" (and {len(diff) - 1} more difference(s))" if len(diff) > 1 else ""))
    ds = meta.get("data_shape")
    if data_shape is not None and ds is not None and list(ds) != list(data_shape):
        raise _bad(Path(str(path)), f"it was saved for data of shape {ds}, this run's data is {list(data_shape)}")


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def prune(ckpt_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (0 keeps everything)."""
    if keep <= 0:
        return
    for j in list_checkpoints(ckpt_dir)[:-keep]:
        j.with_suffix(".safetensors").unlink(missing_ok=True)
        j.unlink(missing_ok=True)
