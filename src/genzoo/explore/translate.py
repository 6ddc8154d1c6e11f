"""Using a trained pix2pix run: triplet grids, several outputs per input, translating image files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genzoo import images
from genzoo.algos.pix2pix import triplets
from genzoo.data import to_float, to_uint8
from genzoo.errors import GenzooError
from genzoo.run import Run, translate_all


def save_triplets(run: Run, n: int, out: Path) -> None:
    """condition | output | target for the first n test pairs, four triplets a row."""
    b = run.pairs(n)
    images.save_grid(out, to_uint8(triplets(b["a"], translate_all(run.algo, b["a"]), b["x"])), nrow=12)


def variations(run: Run, n: int, k: int, out: Path) -> dict:
    """k outputs per condition with dropout on (the U-Net's only noise): rows condition | k outputs | target.
    Measures how different they are: the mean L1 between two outputs for one input, against the mean
    L1 between outputs for different inputs (the spread a truly one-to-many model could reach)."""
    if k < 2:
        raise GenzooError("--variations needs at least 2 outputs per input")
    b = run.pairs(n)
    torch.manual_seed(0)
    outs = torch.stack([translate_all(run.algo, b["a"], dropout=True) for _ in range(k)], 1)   # (n, k, C, H, W)
    c = outs.shape[2]
    rows = []
    for i in range(len(outs)):
        a_i, t_i = b["a"][i:i + 1], b["x"][i:i + 1]
        rows += [a_i.expand(-1, c, -1, -1) if a_i.shape[1] != c else a_i, outs[i], t_i]
    images.save_grid(out, to_uint8(torch.cat(rows)), nrow=k + 2)
    o = (outs.float().clamp(-1, 1) + 1) / 2  # [0, 1]
    within = torch.stack([(o[:, i] - o[:, j]).abs().flatten(1).mean(1)
                          for i in range(k) for j in range(i + 1, k)]).mean().item()
    across = (o[:, 0] - o[:, 0].roll(1, 0)).abs().flatten(1).mean(1).mean().item()
    return {"within_input_l1": within, "across_inputs_l1": across, "ratio": within / max(across, 1e-12),
            "k": k, "n": len(outs)}


def load_inputs(files: list[str], shape: tuple[int, int, int], resize: bool) -> torch.Tensor:
    """Image files -> conditions in [-1, 1] of the run's (C_A, H, W): grey<->RGB is converted; a wrong
    size is an error unless ``resize`` (antialiased bilinear)."""
    from PIL import Image, UnidentifiedImageError

    from genzoo.data import convert_images

    c, h, w = shape
    out = []
    for f in files:
        try:
            with Image.open(f) as im:
                arr = np.array(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
        except FileNotFoundError:
            raise GenzooError(f"{f}: no such file") from None
        except (OSError, UnidentifiedImageError) as e:
            raise GenzooError(f"{f}: not a readable image ({e.__class__.__name__})") from None
        x = torch.from_numpy(arr[None, None] if arr.ndim == 2 else arr.transpose(2, 0, 1)[None].copy())
        if x.shape[-2:] != (h, w):
            if not resize:
                raise GenzooError(f"{f}: {x.shape[-1]}x{x.shape[-2]} pixels, but the run translates {w}x{h}; "
                                  "pass --resize to scale it")
            if x.shape[-1] != x.shape[-2]:
                raise GenzooError(f"{f}: --resize needs a square image, got {x.shape[-1]}x{x.shape[-2]}")
        out.append(convert_images(x, h if x.shape[-1] != w else None, c))
    return to_float(torch.cat(out))


def translate_files(algo, shape, files: list[str], out_dir: Path, resize: bool = False) -> list[Path]:
    if not files:
        raise GenzooError("give at least one image file to translate")
    a = load_inputs(files, shape, resize)
    y = to_uint8(translate_all(algo, a))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for f, img in zip(files, y):
        p = out_dir / (Path(f).stem + ".png")
        images.save_png(p, images.make_grid(img[None], nrow=1, pad=0))
        paths.append(p)
    return paths
