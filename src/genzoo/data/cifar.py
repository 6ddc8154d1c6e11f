"""CIFAR-10 (Krizhevsky 2009), without pickle.

Two sources are read:
- the official *binary* version (``cifar-10-binary.tar.gz``: records of 1 label byte + 3072
  pixel bytes), downloaded from the official site when online and verified by MD5;
- a local JPEG mirror ``cifar10-jpeg-{train,test}.tar.gz`` (``train/<class>/NNNN.jpg``), as kept
  in genzoo's shared data folder. JPEG re-encoding makes it close to, not identical with, CIFAR-10.
The official python version is not read: it is pickled, and loading it could run code.
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
import urllib.error
import urllib.request
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from genzoo.data.folder import IMAGE_ERRORS, image_error, open_image
from genzoo.data.mnist import cache_dir, put_here, search_dirs
from genzoo.errors import GenzooError
from genzoo.io import one_line

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
BINARY_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
BINARY_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"


MAX_MEMBER = 1 << 20  # a 32x32 JPEG is about 1 kB; a member this large is not one


def _decode(data: bytes) -> tuple[np.ndarray | None, str]:
    """(3, 32, 32) uint8 from JPEG bytes, resized when the image has another size; (None, why) if unreadable."""
    try:
        with open_image(io.BytesIO(data)) as im:
            im = im.convert("RGB")
            odd = im.size != (32, 32)
            if odd:
                im = im.resize((32, 32), Image.Resampling.BICUBIC)
            return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1), "resized" if odd else ""
    except IMAGE_ERRORS as e:
        return None, image_error(e)


def _read_jpeg_tar(path: Path) -> tuple[np.ndarray, np.ndarray]:
    xs, ys, skipped, resized = [], [], [], 0
    try:
        with tarfile.open(path) as tar:
            for m in tar:
                parts = Path(m.name).parts
                if not m.isfile() or len(parts) < 2 or parts[-2] not in CLASSES:
                    continue
                x, why = _decode(tar.extractfile(m).read()) if m.size <= MAX_MEMBER else (None, "too large")
                if x is None:
                    skipped.append(f"{m.name}: {why}")
                    continue
                resized += why == "resized"
                xs.append(x)
                ys.append(CLASSES.index(parts[-2]))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise GenzooError(f"{path}: corrupt or truncated archive ({one_line(e)[:120]}); delete it and "
                          "fetch it again") from None
    if skipped:
        warnings.warn(f"{path}: skipped {len(skipped)} unreadable image(s): " + "; ".join(skipped[:3])
                      + (f"; and {len(skipped) - 3} more" if len(skipped) > 3 else "")
                      + "; fetch the archive again for a complete set", stacklevel=3)
    if resized:
        warnings.warn(f"{path}: resized {resized} image(s) that were not 32x32 to 32x32", stacklevel=3)
    if not xs:
        raise GenzooError(f"{path}: no CIFAR-10 images (expected <split>/<class>/*.jpg); fetch the archive again")
    order = np.lexsort((np.arange(len(ys)), ys))
    return np.stack(xs)[order], np.asarray(ys, dtype=np.int64)[order]


def _read_binary_tar(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    chunks = {}
    try:
        with tarfile.open(path) as tar:
            for m in tar:
                if Path(m.name).name in names:
                    chunks[Path(m.name).name] = tar.extractfile(m).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise GenzooError(f"{path}: corrupt or truncated archive ({one_line(e)[:120]}); delete it and "
                          "fetch it again") from None
    if len(chunks) != len(names):
        raise GenzooError(f"{path}: missing {sorted(set(names) - set(chunks))}; delete it and fetch it again")
    raw = np.frombuffer(b"".join(chunks[n] for n in names), dtype=np.uint8)
    if raw.size % 3073:
        raise GenzooError(f"{path}: truncated CIFAR-10 binary batch; delete it and fetch it again")
    rec = raw.reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), rec[:, 0].astype(np.int64)


def load_cifar10(split: str, root: str | None) -> tuple[np.ndarray, np.ndarray]:
    for d in search_dirs("cifar10", root):
        jpeg = d / f"cifar10-jpeg-{split}.tar.gz"
        if jpeg.is_file():
            return _read_jpeg_tar(jpeg)
        binary = d / "cifar-10-binary.tar.gz"
        if binary.is_file():
            return _read_binary_tar(binary, split)
    target = cache_dir() / "cifar10" / "cifar-10-binary.tar.gz"
    hint = put_here(f"cifar-10-binary.tar.gz (or cifar10-jpeg-{split}.tar.gz)", "cifar10", root, target.parent)
    if os.environ.get("GENZOO_OFFLINE"):
        raise GenzooError(f"cifar10 not found locally and downloads are off (GENZOO_OFFLINE): {hint}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(BINARY_URL, timeout=60) as r:
            data = r.read()
        if hashlib.md5(data).hexdigest() != BINARY_MD5:
            raise OSError("checksum mismatch")
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise GenzooError(f"cifar10 not found locally and the download failed ({e}): {hint}") from None
    return _read_binary_tar(target, split)
