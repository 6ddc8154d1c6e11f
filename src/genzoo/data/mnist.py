"""MNIST and Fashion-MNIST: find local copies, or download from the official mirrors.

Lookup order for each dataset: ``--data-root DIR`` (``DIR/<name>/`` or ``DIR`` itself),
``$GENZOO_DATA`` (same rule), Debian's package folder (Fashion-MNIST only), then the
download cache ``~/.cache/genzoo/<name>/``. If nothing is found and downloads are allowed
(``GENZOO_OFFLINE`` unset), the files are fetched and their decompressed MD5 verified.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genzoo.data.idx import read_idx
from genzoo.errors import GenzooError


@dataclass(frozen=True)
class IdxSource:
    name: str
    mirrors: tuple[str, ...]
    md5: dict[str, str]          # uncompressed file name -> md5 of the decompressed content
    extra_dirs: tuple[str, ...] = ()


SOURCES = {
    "mnist": IdxSource(
        "mnist",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {
            "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
            "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
            "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
        },
    ),
    "fashion-mnist": IdxSource(
        "fashion-mnist",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
        },
        extra_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
}

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genzoo"


def put_here(files: str, sub: str, root: str | None, cache: Path) -> str:
    """What to do about missing files, for an error message: put them in the --data-root folder, else in
    $GENZOO_DATA's folder (by its value) when it is set, else in either of $GENZOO_DATA and the download cache."""
    if root:
        return f"put {files} in {Path(root) / sub}, or point --data-root at the folder that holds them"
    env = os.environ.get("GENZOO_DATA")
    where = f"{Path(env) / sub} ($GENZOO_DATA)" if env else f"$GENZOO_DATA/{sub} or {cache}"
    return f"put {files} in {where}, or pass --data-root DIR"


def search_dirs(sub: str, root: str | None, extra: tuple[str, ...] = ()) -> list[Path]:
    """Where a dataset's files are looked for, in order: the --data-root folder (its ``sub`` folder, then
    itself), the same under $GENZOO_DATA, the ``extra`` folders, then the download cache."""
    dirs = []
    for base in (root, os.environ.get("GENZOO_DATA")):
        if base:
            dirs += [Path(base) / sub, Path(base)]
    return dirs + [Path(d) for d in extra] + [cache_dir() / sub]


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def locate(src: IdxSource, root: str | None) -> Path:
    """The folder holding all four files, downloading them if allowed."""
    for folder in search_dirs(src.name, root, src.extra_dirs):
        if all(_find(folder, stem) for stem in src.md5):
            return folder
    target = cache_dir() / src.name
    todo = put_here(", ".join(s + ".gz" for s in src.md5), src.name, root, target)
    if os.environ.get("GENZOO_OFFLINE"):
        raise GenzooError(f"{src.name} not found locally and downloads are off (GENZOO_OFFLINE): " + todo)
    try:
        download(src, target)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise GenzooError(f"{src.name} not found locally and the download failed ({e}): " + todo) from None
    return target


def _content_md5(gz_bytes: bytes) -> str | None:
    """MD5 of the decompressed content, or None if the gzip stream is corrupt or truncated."""
    try:
        return hashlib.md5(gzip.decompress(gz_bytes)).hexdigest()
    except (EOFError, OSError, zlib.error):
        return None


def download(src: IdxSource, target: Path) -> None:
    """Fetch each missing file from the first mirror whose copy has the right content MD5."""
    target.mkdir(parents=True, exist_ok=True)
    for stem, md5 in src.md5.items():
        dest = target / (stem + ".gz")
        if dest.is_file():
            continue
        last: Exception | None = None
        for mirror in src.mirrors:
            try:
                with urllib.request.urlopen(mirror + stem + ".gz", timeout=30) as r:
                    data = r.read()
                if _content_md5(data) != md5:
                    raise OSError(f"checksum mismatch for {stem} from {mirror}")
                tmp = dest.with_name(dest.name + ".part")
                tmp.write_bytes(data)
                os.replace(tmp, dest)
                break
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                last = e
        else:
            raise last if last else OSError("no mirror")


def load_idx_dataset(name: str, split: str, root: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(images N×28×28 uint8, labels N int64) for split 'train' or 'test'."""
    src = SOURCES[name]
    folder = locate(src, root)
    prefix = "train" if split == "train" else "t10k"
    img_stem, lab_stem = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    images = read_idx(_find(folder, img_stem), src.md5[img_stem])
    labels = read_idx(_find(folder, lab_stem), src.md5[lab_stem])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise GenzooError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    return images, labels.astype(np.int64)
