"""Any folder of PNG/JPEG images; one subfolder per class gives labels.

If the folder has ``train/`` and ``test/`` subfolders (the usual split layout), the split
picks one of them. Images are converted once, at load time, to the chosen size and channel
count; unreadable files are named in a warning and skipped, or rejected with ``strict``.
"""
from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from genzoo.errors import GenzooError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


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
        with Image.open(path) as im:
            im.load()
            c = channels or (1 if im.mode in ("L", "1", "I;16", "I") else 3)
            im = im.convert("L" if c == 1 else "RGB")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.BICUBIC)
            arr = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        return f"{path.name}: {e.__class__.__name__}"
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # (C, H, W)


def load_folder(path: str, split: str, image_size: int | None, channels: int | None,
                strict: bool) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    root = Path(path).expanduser()
    if not root.is_dir():
        raise GenzooError(f"folder:{path}: no such directory")
    base, root = root, _split_root(root, split)
    files, labels, names = scan(root)
    if root == base:
        _warn_guessed_split(path, base, split, names)
    if not files:
        raise GenzooError(f"folder:{path}: no PNG or JPEG images found under {root}")
    if image_size is None or channels is None:  # settle size and channels from the first readable file
        for f in files:
            first = _open(f, image_size, channels)
            if not isinstance(first, str):
                break
        else:
            raise GenzooError(f"folder:{path}: none of the {len(files)} images could be read")
        channels = channels or first.shape[0]
        if image_size is None:
            if first.shape[1] != first.shape[2]:
                raise GenzooError(f"folder:{path}: images are not square ({first.shape[2]}x{first.shape[1]}); "
                                  "set data.image_size")
            image_size = first.shape[1]
    with ThreadPoolExecutor(max_workers=4) as pool:
        arrays = list(pool.map(lambda f: _open(f, image_size, channels), files))
    bad = [a for a in arrays if isinstance(a, str)]
    if bad:
        listing = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        if strict:
            raise GenzooError(f"folder:{path}: {len(bad)} unreadable image(s) ({listing}); "
                              "fix or remove them, or drop --strict to skip them")
        warnings.warn(f"folder:{path}: skipped {len(bad)} unreadable image(s): {listing}", stacklevel=2)
    keep = [i for i, a in enumerate(arrays) if not isinstance(a, str)]
    if not keep:
        raise GenzooError(f"folder:{path}: none of the {len(files)} images could be read")
    x = np.stack([arrays[i] for i in keep])  # (N, C, H, W)
    y = np.asarray([labels[i] for i in keep], dtype=np.int64) if labels is not None else None
    if y is not None and len(names) < 2:
        y, names = None, None  # a single class folder is just a container
    return x, y, names


