"""Paired data for image-to-image translation (pix2pix; Isola et al. 2017, arXiv:1611.07004).

A paired dataset holds targets B (``x``, uint8 (N, C, H, W)) and conditions A (``a``, the same
layout). Pairs come from files, or are built from any genzoo dataset by an algorithm:

  ab          a folder of "AB" images, A on the left half and B on the right (the pix2pix format)
  folders     a folder with subfolders A/ and B/ holding files with matching names
  gray2color  A = the luma of B (colorisation; needs RGB images)
  edges       A = B's edges as black lines on white: Canny (default) or Sobel (data.edges)
  downsample  A = B shrunk by data.scale (2 or 4) and blown back up (super-resolution)
  mask        A = B with a random grey box over it, drawn afresh each batch (inpainting)

``data.direction = BtoA`` swaps the two sides of file-based pairs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genzoo.data import Dataset, convert_images, load_dataset, to_float
from genzoo.errors import GenzooError
from genzoo.io import sha256_of

TASKS = ("ab", "folders", "gray2color", "edges", "downsample", "mask")
BUILT = ("gray2color", "edges", "downsample", "mask")
EDGE_METHODS = ("canny", "sobel")
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass
class PairedDataset(Dataset):
    """``x`` = targets B, ``a`` = conditions A; ``mask_boxes``: draw the inpainting box per batch."""

    a: torch.Tensor | None = None
    task: str = ""

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """(C_A, C_B, H, W): what the pix2pix nets are built for (and what run checkpoints record)."""
        return (self.a.shape[1], *self.x.shape[1:])

    def _read_from_files(self) -> tuple[torch.Tensor | None, ...]:
        return (self.x, self.y) if self.task in BUILT else (self.x, self.y, self.a)  # built A follows from B

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        out = super().batch(idx)
        if self.task == "mask":
            out["a"] = random_box(out["x"])
        else:
            out["a"] = to_float(self.a[idx])
        return out


# -- pair builders, on uint8 (N, C, H, W) ---------------------------------------------------------
def luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601-2 luma of RGB images (decolorisation, for colourisation pairs). uint8 (N, 1, H, W)"""
    return convert_images(x, None, 1)


def _sobel(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    w = torch.stack([k, k.t()])[:, None]                             # (2, 1, 3, 3): d/dx, d/dy
    d = F.conv2d(F.pad(g, (1, 1, 1, 1), mode="replicate"), w)
    return d[:, :1], d[:, 1:]


def edge_map(x: torch.Tensor, method: str = "canny", low: float = 0.1, high: float = 0.25) -> torch.Tensor:
    """Binary edges of uint8 images -> uint8 (N, 1, H, W): 0 on edges, 255 elsewhere (sketch-like).

    sobel: gradient magnitude above ``high`` x the image's maximum.
    canny (Canny 1986): Gaussian smoothing, Sobel gradients, non-maximum suppression across the edge,
    then hysteresis: pixels above ``high`` x max are edges, and pixels above ``low`` x max join them
    when connected to an edge."""
    if method not in EDGE_METHODS:
        raise GenzooError(f"unknown edge detector '{method}'; valid: {', '.join(EDGE_METHODS)}")
    g = luma(x).float() / 255.0
    if method == "canny":
        blur = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0          # binomial ~ Gaussian, sigma ~ 1
        g = F.conv2d(F.pad(g, (2, 2, 0, 0), mode="replicate"), blur.view(1, 1, 1, 5))
        g = F.conv2d(F.pad(g, (0, 0, 2, 2), mode="replicate"), blur.view(1, 1, 5, 1))
    gx, gy = _sobel(g)
    mag = torch.hypot(gx, gy)
    top = mag.amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-8)
    if method == "sobel":
        edges = mag > high * top
    else:
        edges = _hysteresis(_non_max_suppression(mag, gx, gy), low * top, high * top)
    return ((~edges).to(torch.uint8) * 255)


def _non_max_suppression(mag: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """Keep a pixel only where its magnitude is a maximum along the gradient direction (4 bins)."""
    angle = torch.rad2deg(torch.atan2(gy, gx)) % 180.0
    bins = ((angle + 22.5) // 45).long() % 4                     # 0: horizontal gradient, 1: 45°, 2: vertical, 3: 135°
    p = F.pad(mag, (1, 1, 1, 1))
    H, W = mag.shape[-2:]

    def at(dy: int, dx: int) -> torch.Tensor:
        return p[..., 1 + dy:1 + dy + H, 1 + dx:1 + dx + W]
    neighbours = [(at(0, 1), at(0, -1)), (at(1, 1), at(-1, -1)), (at(1, 0), at(-1, 0)), (at(1, -1), at(-1, 1))]
    keep = torch.zeros_like(mag, dtype=torch.bool)
    for b, (n1, n2) in enumerate(neighbours):
        keep |= (bins == b) & (mag >= n1) & (mag >= n2)
    return torch.where(keep, mag, torch.zeros_like(mag))


def _hysteresis(mag: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    strong, weak = mag > high, mag > low
    for _ in range(max(mag.shape[-2:])):                          # grow strong edges into connected weak ones
        grown = weak & (F.max_pool2d(strong.float(), 3, 1, 1) > 0)
        if torch.equal(grown, strong):
            break
        strong = grown
    return strong


def downsample(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Shrink by ``scale`` (antialiased) and enlarge back with bicubic interpolation, so A and B align."""
    if scale not in (2, 4):
        raise GenzooError(f"data.scale must be 2 or 4, got {scale}")
    H, W = x.shape[-2:]
    if H % scale or W % scale:
        raise GenzooError(f"super-resolution x{scale} needs sizes divisible by {scale}, got {H}x{W}")
    small = F.interpolate(x.float(), size=(H // scale, W // scale), mode="bilinear", antialias=True)
    big = F.interpolate(small, size=(H, W), mode="bicubic", align_corners=False)
    return big.round().clamp(0, 255).to(torch.uint8)


def random_box(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Inpainting inputs: each image in [-1, 1] with one random box (1/4 to 1/2 of each side) set to
    grey (0). Drawn from torch's RNG, which checkpoints hold, so resumed runs draw the same boxes."""
    N, _, H, W = x.shape
    h = torch.randint(H // 4, H // 2 + 1, (N,), generator=generator)
    w = torch.randint(W // 4, W // 2 + 1, (N,), generator=generator)
    top = (torch.rand(N, generator=generator) * (H - h + 1)).long()
    left = (torch.rand(N, generator=generator) * (W - w + 1)).long()
    rows, cols = torch.arange(H)[None, :], torch.arange(W)[None, :]
    inside_r = (rows >= top[:, None]) & (rows < (top + h)[:, None])          # (N, H)
    inside_c = (cols >= left[:, None]) & (cols < (left + w)[:, None])        # (N, W)
    box = (inside_r[:, :, None] & inside_c[:, None, :])[:, None]             # (N, 1, H, W)
    return x.masked_fill(box.to(x.device), 0.0)


# -- file-based pairs ----------------------------------------------------------------------------------
def _read(path: Path) -> np.ndarray:
    from genzoo.data.folder import IMAGE_ERRORS, image_error, open_image

    try:
        with open_image(path) as im:
            im = im.convert("RGB") if im.mode not in ("L", "RGB") else im
            arr = np.asarray(im)
    except IMAGE_ERRORS as e:
        raise GenzooError(f"{path}: not a readable image ({image_error(e)}); fix or remove it") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_EXT)


def _split_dir(root: Path, split: str) -> Path:
    return root / split if (root / split).is_dir() else root


def _stack(arrays: list[np.ndarray], what: str) -> torch.Tensor:
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise GenzooError(f"{what}: images differ in size or channels ({', '.join(map(str, sorted(shapes)))}); "
                          "pairs must share one size")
    return torch.from_numpy(np.stack(arrays))


def split_ab(ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """AB images (N, C, H, 2W) -> (A, B), each (N, C, H, W): A the left half, B the right."""
    W2 = ab.shape[-1]
    if W2 % 2:
        raise GenzooError(f"AB images must have an even width (A and B side by side), got {W2}")
    return ab[..., : W2 // 2], ab[..., W2 // 2:]


def load_ab(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    folder = _split_dir(root, split)
    files = _files(folder)
    if not files:
        raise GenzooError(f"{folder}: no images for the ab task (expected AB files: A left, B right)")
    return split_ab(_stack([_read(p) for p in files], str(folder)))


def load_folders(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    folder = _split_dir(root, split)
    da, db = folder / "A", folder / "B"
    if not (da.is_dir() and db.is_dir()):
        raise GenzooError(f"{folder}: the folders task needs subfolders A/ and B/ with matching file names")
    fa, fb = {p.stem: p for p in _files(da)}, {p.stem: p for p in _files(db)}
    only = sorted(set(fa) ^ set(fb))
    if only:
        raise GenzooError(f"{folder}: {len(only)} file(s) without a partner in A/ or B/, e.g. '{only[0]}'")
    if not fa:
        raise GenzooError(f"{folder}: A/ and B/ hold no images")
    names = sorted(fa)
    return _stack([_read(fa[n]) for n in names], str(da)), _stack([_read(fb[n]) for n in names], str(db))


def load_pairs(spec: str, task: str, split: str = "train", root: str | None = None, image_size: int | None = None,
               channels: int | None = None, direction: str = "AtoB", edges: str = "canny",
               scale: int = 4) -> PairedDataset:
    if task not in TASKS:
        raise GenzooError(f"unknown pix2pix task '{task}'; valid: {', '.join(TASKS)}")
    if direction not in ("AtoB", "BtoA"):
        raise GenzooError(f"data.direction must be AtoB or BtoA, got '{direction}'")
    y, names, digest = None, None, None
    if task in ("ab", "folders"):
        if not spec.startswith("folder:"):
            raise GenzooError(f"the {task} task reads files: use --dataset folder:PATH")
        a, b = (load_ab if task == "ab" else load_folders)(Path(spec.split(":", 1)[1]).expanduser(), split)
        if direction == "BtoA":
            a, b = b, a
        read = (a, b)
        a, b = convert_images(a, image_size, None), convert_images(b, image_size, channels)
        if a is not read[0] or b is not read[1]:  # resized or recoloured: hash the images as read (files_sha256)
            digest = sha256_of(read[1], None, read[0])
    else:
        base = load_dataset(spec, split, root, image_size, channels)
        if not base.is_image:
            raise GenzooError(f"pix2pix translates images; '{spec}' holds 2-D points")
        b, y, names, digest = base.x, base.y, base.class_names, base.digest
        if task == "gray2color":
            if b.shape[1] != 3:
                raise GenzooError(f"gray2color needs colour images, but '{spec}' has {b.shape[1]} channel(s)")
            a = luma(b)
        elif task == "edges":
            a = torch.cat([edge_map(c, edges) for c in b.split(2048)])
        elif task == "downsample":
            a = downsample(b, scale)
        else:
            a = b  # mask: drawn per batch
    if a.shape[0] != b.shape[0] or a.shape[-2:] != b.shape[-2:]:
        raise GenzooError(f"A and B differ in count or size: {tuple(a.shape)} vs {tuple(b.shape)}")
    return PairedDataset(spec, b, y, names, meta={"task": task}, digest=digest, a=a, task=task)
