"""File helpers every layer uses: atomic writes and content hashes."""
from __future__ import annotations

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
        raise GenzooError(f"cannot write {path}: {e.strerror or e}; nothing earlier was overwritten") from None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


