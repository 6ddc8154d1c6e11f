"""A memory-mapped uint8 cache for folder datasets too large to decode into memory (``data.storage``).

A ``folder:`` dataset is normally decoded into memory at every start. Past ``MMAP_BYTES`` of decoded images
(or with ``data.storage=mmap``) it is converted once into ``~/.cache/genzoo/folders/KEY/``: ``images.u8``, the
images as one raw (N, C, H, W) uint8 array, ``labels.npy`` and ``meta.json``. KEY hashes what the images
become: every file's path, size and modification time, the split, the image size and the channels, so a
changed folder or setting makes a new cache. Training then maps the file: the operating system pages images
in as batches touch them, and every process (every rank of a torchrun job) shares the same pages instead of
holding its own copy.

Conversion shows a progress bar and survives an interruption: rows are written in order and ``progress.json``
records how far they got, so the next start continues from there. A lock file makes one process convert while
the others (other ranks, other runs) wait and then map the finished cache.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from genzoo.io import atomic_write_bytes, sha256_of

MMAP_BYTES = 2 << 30   # decoded size above which folder datasets are memory-mapped (GENZOO_MMAP_BYTES changes it)
CHUNK = 256            # images decoded between two progress records
VERSION = 1


def mmap_threshold() -> int:
    from genzoo.config_values import env_int
    return env_int("GENZOO_MMAP_BYTES", MMAP_BYTES, "bytes", 2147483648)


def cache_root() -> Path:
    from genzoo.data.mnist import cache_dir
    return cache_dir() / "folders"


def cache_key(files: list[Path], split: str, size: int, channels: int) -> str:
    h = hashlib.sha256(f"genzoo-folder-cache {VERSION} {split} {size} {channels}\n".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def _map(folder: Path, meta: dict) -> tuple[np.ndarray, np.ndarray | None]:
    n, shape = meta["n"], tuple(meta["shape"])
    x = np.memmap(folder / "images.u8", dtype=np.uint8, mode="c", shape=(n, *shape)) if n else \
        np.zeros((0, *shape), np.uint8)
    y = np.load(folder / "labels.npy", allow_pickle=False) if meta["labelled"] else None
    return x, y


def cached_folder(files: list[Path], labels: list[int] | None, split: str, size: int, channels: int,
                  decode, progress: bool = True) -> tuple[np.ndarray, np.ndarray | None, list[str], str]:
    """The decoded images of ``files`` as a read-only memory map (N, C, H, W) uint8, their labels, the
    messages of the files that could not be read and the SHA-256 of images and labels (``io.sha256_of``,
    computed once and kept in meta.json: hashing gigabytes at each start, or on one rank of a distributed job
    while the others wait on a timed collective, would be slow). ``decode(path)`` returns a (C, H, W) array
    or a message."""
    folder = cache_root() / cache_key(files, split, size, channels)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one converter; the others wait here, then find it done
        done = folder / "meta.json"
        if not done.exists():
            _convert(folder, files, labels, (channels, size, size), decode, progress)
        meta = json.loads(done.read_text())
        x, y = _map(folder, meta)
        if "sha256" not in meta:  # the other processes wait on the lock, which has no timeout
            meta["sha256"] = sha256_of(x, y)
            atomic_write_bytes(done, json.dumps(meta).encode())
    return x, y, meta["bad"], meta["sha256"]


def _convert(folder: Path, files: list[Path], labels: list[int] | None, shape: tuple[int, int, int], decode,
             progress: bool) -> None:
    """Decode ``files`` into ``images.u8`` in order, resuming after the last recorded chunk."""
    state_file, data_file = folder / "progress.json", folder / "images.u8"
    state = {"next": 0, "kept": [], "bad": []}
    if state_file.exists() and data_file.exists():
        state = json.loads(state_file.read_text())
    row = np.prod(shape)
    with open(data_file, "r+b" if state["next"] else "wb") as out, \
            tqdm(total=len(files), initial=state["next"], desc="caching images", unit="img",
                 disable=not progress, dynamic_ncols=True) as bar:
        out.seek(len(state["kept"]) * row)
        out.truncate()  # drop rows written after the last record (an interrupted chunk)
        for start in range(state["next"], len(files), CHUNK):
            for i in range(start, min(start + CHUNK, len(files))):
                a = decode(files[i])
                if isinstance(a, str):
                    state["bad"].append(a)
                    continue
                out.write(np.ascontiguousarray(a, dtype=np.uint8).tobytes())
                state["kept"].append(i)
            out.flush()
            os.fsync(out.fileno())
            state["next"] = min(start + CHUNK, len(files))
            atomic_write_bytes(state_file, json.dumps(state).encode())
            bar.update(state["next"] - bar.n)
    kept = state["kept"]
    if labels is not None:
        buf = folder / "labels.npy.tmp"
        with open(buf, "wb") as f:
            np.save(f, np.asarray([labels[i] for i in kept], dtype=np.int64), allow_pickle=False)
        os.replace(buf, folder / "labels.npy")
    meta = {"version": VERSION, "n": len(kept), "shape": list(shape), "labelled": labels is not None,
            "bad": state["bad"], "files": len(files)}
    atomic_write_bytes(folder / "meta.json", json.dumps(meta).encode())
    state_file.unlink(missing_ok=True)
