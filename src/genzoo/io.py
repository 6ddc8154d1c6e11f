"""File helpers every layer uses: atomic writes and content hashes."""
from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

from genzoo.errors import GenzooError


# -- atomic files --------------------------------------------------------------------------
def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise GenzooError(f"cannot write {path}: {e.strerror or e}; nothing earlier was overwritten; free some "
                          "space or fix the folder's permissions, then run the command again") from None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_of(*arrays) -> str:
    """One SHA-256 over arrays' shapes, types and bytes; torch tensors hash like the same numpy arrays, and
    None counts as absent (not as empty). What checkpoints record of the training data (``data_sha256``)."""
    import numpy as np

    arrays = [a.detach().cpu().numpy() if hasattr(a, "detach") else a for a in arrays]
    h = hashlib.sha256(repr([None if a is None else (tuple(a.shape), str(a.dtype)) for a in arrays]).encode())
    for a in arrays:
        if a is not None:
            h.update(np.ascontiguousarray(a))
    return h.hexdigest()


# -- file-system errors as one line --------------------------------------------------------
_ADVICE = {
    errno.EACCES: "permission denied; choose a location you can write to (for a run: --out DIR) or fix its permissions",
    errno.EPERM: "operation not permitted; choose another location (for a run: --out DIR) or fix its permissions",
    errno.EROFS: "the file system is read-only; choose a writable location (for a run: --out DIR)",
    errno.ENOTDIR: "a part of this path is a file, not a folder; choose another path or move that file away",
    errno.EEXIST: "already exists; choose a new name or remove it first",
    errno.EISDIR: "is a folder where a file was expected; give a file path",
    errno.ENOENT: "no such file or folder; check the path",
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere, then run the command again "
                  "(an interrupted training run continues with `genzoo train --resume RUN_DIR`)",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere, then run the command again",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
    errno.ELOOP: "too many symbolic links; check the path",
    errno.EMFILE: "too many open files; raise the limit with `ulimit -n` and run the command again",
    errno.EIO: "input/output error; check the disk, then run the command again",
}


def os_error_message(e: OSError) -> str:
    """One line for a file-system error: the path, what went wrong and what to do."""
    paths = [p for p in (e.filename, e.filename2) if p is not None]
    where = " -> ".join(os.fsdecode(p) if isinstance(p, (bytes, os.PathLike)) else str(p) for p in paths)
    advice = _ADVICE.get(e.errno) or f"{e.strerror or e.__class__.__name__}; check the path and its permissions"
    return one_line(f"{where}: {advice}" if where else f"{advice}")


def one_line(text: str) -> str:
    """``text`` with line breaks shown as spaces, so an error is always a single line."""
    return " ".join(str(text).split("\n")).replace("\r", " ")
