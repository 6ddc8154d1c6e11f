"""The IDX file format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/).

Header: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then one
big-endian uint32 per dimension. Anything that does not add up is refused, so a truncated
or corrupt file gives an error and never a wrong tensor.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import zlib
from pathlib import Path

import numpy as np

from genzoo.errors import GenzooError


_REFETCH = "delete it and fetch it again (or point --data-root at a good copy)"


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when the name ends in .gz."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise GenzooError(f"{path}: cannot read ({e.strerror or e}); check the file and its permissions") from None
    if path.suffix == ".gz":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise GenzooError(f"{path}: corrupt or truncated gzip file ({e}); delete it and fetch it again") from None
    return raw


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes into a uint8 array of the declared shape."""
    if len(data) < 4:
        raise GenzooError(f"{name}: truncated IDX file ({len(data)} bytes, no header); {_REFETCH}")
    if data[0] != 0 or data[1] != 0:
        raise GenzooError(f"{name}: not an IDX file (bad magic number); {_REFETCH}")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise GenzooError(f"{name}: unsupported IDX element type 0x{dtype_code:02x} (genzoo reads uint8 images and "
                          f"labels); {_REFETCH}")
    if ndim == 0 or ndim > 4:
        raise GenzooError(f"{name}: corrupt IDX header ({ndim} dimensions); {_REFETCH}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise GenzooError(f"{name}: truncated IDX header; {_REFETCH}")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(shape)  # Python ints: cannot overflow, whatever the header declares
    got = len(data) - header
    if got != expected:
        what = "truncated" if got < expected else "corrupt (trailing bytes)"
        raise GenzooError(f"{name}: {what} IDX file: header says {shape} = {expected} bytes, found {got}; {_REFETCH}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path: Path, md5: str | None = None) -> np.ndarray:
    """Read an IDX file (optionally .gz); check the MD5 of the decompressed content if given."""
    data = read_bytes(path)
    if md5 is not None:
        got = hashlib.md5(data).hexdigest()
        if got != md5:
            raise GenzooError(f"{path}: checksum mismatch (md5 {got}, expected {md5}); "
                              "the file is corrupt or not the official one: delete it and fetch it again")
    return parse_idx(data, str(path))


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as IDX (gzip when the name ends in .gz). Used to build the embedded set."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0) if path.suffix == ".gz" else payload)
