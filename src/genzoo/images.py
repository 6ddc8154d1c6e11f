"""Image grids, PNGs and GIFs with Pillow and NumPy (no torchvision)."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genzoo.io import atomic_write_bytes


def make_grid(images: torch.Tensor | np.ndarray, nrow: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """uint8 (N, C, H, W) -> one uint8 (H', W', C) image, ``nrow`` images per row."""
    x = images.cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    assert x.dtype == np.uint8 and x.ndim == 4, (x.dtype, x.shape)
    n, c, h, w = x.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    ncol = int(math.ceil(n / nrow))
    grid = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad, c), pad_value, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y0, x0 = pad + r * (h + pad), pad + col * (w + pad)
        grid[y0:y0 + h, x0:x0 + w] = x[i].transpose(1, 2, 0)  # (H, W, C)
    return grid


def to_pil(grid: np.ndarray) -> Image.Image:
    return Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)


def save_png(path: Path, grid: np.ndarray | Image.Image, scale: int = 1) -> None:
    im = grid if isinstance(grid, Image.Image) else to_pil(grid)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    atomic_write_bytes(Path(path), buf.getvalue())


def display_scale(images_u8) -> int:
    """Small images (<= 32 px) are saved at 2x, so digits stay legible in a viewer."""
    return 2 if images_u8.shape[-1] <= 32 else 1


def save_grid(path: Path, images_u8: torch.Tensor, nrow: int | None = None) -> None:
    """uint8 (N, C, H, W) -> a PNG grid, ``nrow`` images per row, at display scale."""
    save_png(path, make_grid(images_u8, nrow=nrow), scale=display_scale(images_u8))


def save_gif(path: Path, frames: list[Image.Image], ms_per_frame: int = 200) -> None:
    if not frames:
        return
    frames = [f.convert("P", palette=Image.Palette.ADAPTIVE) if f.mode == "RGB" else f for f in frames]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=ms_per_frame, loop=0)
    atomic_write_bytes(Path(path), buf.getvalue())


def scatter_png(points: np.ndarray, path: Path, centers: np.ndarray | None = None, title: str = "",
                lim: float | None = None) -> None:
    """2-D samples (and the true mode centres) as a PNG, for toy runs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
    if centers is not None:
        ax.scatter(centers[:, 0], centers[:, 1], s=60, c="tab:red", marker="x", label="modes")
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.5, c="tab:blue", label="samples")
    if lim is not None:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
