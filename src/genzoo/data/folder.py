"""Any folder of PNG/JPEG images; one subfolder per class gives labels.

If the folder has ``train/`` and ``test/`` subfolders (the usual split layout), the split
picks one of them. Images are converted once, at load time, to the chosen size and channel
count; unreadable files are named in a warning and skipped, or rejected with ``strict``.
"""
from __future__ import annotations

import struct
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from genzoo.config_values import env_int
from genzoo.data.cache import cached_folder, mmap_threshold
from genzoo.errors import GenzooError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_PIXELS = 50_000_000  # per file; a larger image is skipped like an unreadable one (GENZOO_MAX_PIXELS changes it)
# What reading one image file can raise: broken or hostile files are the user's to fix, never a traceback.
IMAGE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
                Image.DecompressionBombWarning, MemoryError, struct.error, IndexError, TypeError, ZeroDivisionError)


def max_pixels() -> int:
    return max(1, env_int("GENZOO_MAX_PIXELS", MAX_PIXELS, "pixels", 50000000))


class TooLarge(ValueError):
    """An image over the per-file pixel limit."""


def open_image(src) -> Image.Image:
    """``Image.open`` with a per-file pixel limit checked from the header, before anything is decoded.
    Raises one of IMAGE_ERRORS (TooLarge past the limit, Pillow's DecompressionBombError far past it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        im = Image.open(src)
    w, h = im.size
    limit = max_pixels()
    if w * h > limit:
        im.close()
        raise TooLarge(f"{w}x{h} = {w * h / 1e6:.0f} megapixels, over the {limit / 1e6:g}-megapixel limit "
                       "(GENZOO_MAX_PIXELS)")
    return im


def image_error(e: BaseException) -> str:
    return str(e) if isinstance(e, TooLarge) else (
        "over Pillow's decompression-bomb pixel limit" if isinstance(e, (Image.DecompressionBombError,
                                                                   Image.DecompressionBombWarning))
        else e.__class__.__name__)


def _split_root(root: Path, split: str) -> Path:
    if (root / split).is_dir():
        return root / split
    return root


def _warn_guessed_split(path: str, root: Path, split: str, names: list[str] | None) -> None:
    """Without train/ and test/ subfolders genzoo has to guess the split and the labels: say what it chose."""
    have = [s for s in ("train", "test") if (root / s).is_dir()]
    labels = (f"{len(names)} classes from its subfolders ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''})"
              if names and len(names) > 1 else "no labels")
    found = f"has {' and '.join(s + '/' for s in have)} but no {split}/" if have else "has no train/ and test/ subfolders"
    warnings.warn(f"folder:{path} {found}: the {split} split reads the whole folder, with {labels}"
                  + ("; evaluation will compare with these same images" if split == "test" else "")
                  + "; add train/ and test/ subfolders to choose", stacklevel=3)


def scan(root: Path) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """Image files, their class indices (None if unlabelled) and the class names."""
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    class_dirs = [d for d in class_dirs if any(p.suffix.lower() in IMAGE_EXTS for p in d.rglob("*"))]
    if class_dirs:
        files, labels = [], []
        for k, d in enumerate(class_dirs):
            found = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
            files += found
            labels += [k] * len(found)
        return files, labels, [d.name for d in class_dirs]
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    return files, None, None


def _open(path: Path, size: int | None, channels: int | None) -> np.ndarray | str:
    try:
        with open_image(path) as im:
            im.load()
            c = channels or (1 if im.mode in ("L", "1", "I;16", "I") else 3)
            im = im.convert("L" if c == 1 else "RGB")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.BICUBIC)
            arr = np.asarray(im, dtype=np.uint8)
    except IMAGE_ERRORS as e:
        return f"{path.name}: {image_error(e)}"
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # (C, H, W)


def load_folder(path: str, split: str, image_size: int | None, channels: int | None, strict: bool,
                storage: str = "auto") -> tuple[np.ndarray, np.ndarray | None, list[str] | None, str | None]:
    """Images (N, C, H, W) uint8, labels, class names and the SHA-256 of images and labels where already known
    (a memory-mapped cache's; else None). ``storage``: memory (decode into memory), mmap (a memory-mapped
    cache, genzoo.data.cache) or auto (mmap past GENZOO_MMAP_BYTES of decoded images)."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise GenzooError(f"folder:{path}: no such directory; give folder:PATH of a folder of PNG/JPEG images")
    base, root = root, _split_root(root, split)
    files, labels, names = scan(root)
    if root == base:
        _warn_guessed_split(path, base, split, names)
    if not files:
        raise GenzooError(f"folder:{path}: no PNG or JPEG images found under {root}; put images there "
                          "(one subfolder per class for labels)")
    if image_size is None or channels is None:  # settle size and channels from the first readable file
        for f in files:
            first = _open(f, image_size, channels)
            if not isinstance(first, str):
                break
        else:
            raise GenzooError(f"folder:{path}: none of the {len(files)} images could be read; check that they "
                              "are PNG/JPEG files")
        channels = channels or first.shape[0]
        if image_size is None:
            if first.shape[1] != first.shape[2]:
                raise GenzooError(f"folder:{path}: images are not square ({first.shape[2]}x{first.shape[1]}); "
                                  "set data.image_size")
            image_size = first.shape[1]
    if storage == "mmap" or (storage == "auto" and len(files) * channels * image_size ** 2 > mmap_threshold()):
        x, y, bad, digest = cached_folder(files, labels, split, image_size, channels,
                                          lambda f: _open(f, image_size, channels))
        _report_bad(path, bad, len(files), len(x), strict)
        return (*_names_checked(x, y, names), digest)
    with ThreadPoolExecutor(max_workers=4) as pool:
        arrays = list(pool.map(lambda f: _open(f, image_size, channels), files))
    bad = [a for a in arrays if isinstance(a, str)]
    keep = [i for i, a in enumerate(arrays) if not isinstance(a, str)]
    _report_bad(path, bad, len(files), len(keep), strict)
    x = np.stack([arrays[i] for i in keep])  # (N, C, H, W)
    y = np.asarray([labels[i] for i in keep], dtype=np.int64) if labels is not None else None
    return (*_names_checked(x, y, names), None)


def _report_bad(path: str, bad: list[str], n_files: int, n_kept: int, strict: bool) -> None:
    """Unreadable files: one line refusing them (strict), else a warning naming them; none readable: refused."""
    if bad:
        listing = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        if strict:
            raise GenzooError(f"folder:{path}: {len(bad)} unreadable or too large image(s) ({listing}); "
                              "fix or remove them, or drop --strict to skip them")
        warnings.warn(f"folder:{path}: skipped {len(bad)} unreadable or too large image(s): {listing}; "
                      "fix or remove them (--strict refuses them instead)", stacklevel=3)
    if not n_kept:
        raise GenzooError(f"folder:{path}: none of the {n_files} images could be read; check that they are "
                          "PNG/JPEG files")


def _names_checked(x, y, names):
    if y is not None and len(names) < 2:
        y, names = None, None  # a single class folder is just a container
    return x, y, names


