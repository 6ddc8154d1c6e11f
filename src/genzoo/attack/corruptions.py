"""Corruptions after MNIST-C (Mu & Gilmer 2019, arXiv:1906.02337), each a pure seeded function
uint8 (N, C, H, W) -> uint8 (N, C, H, W), and the robustness report over them.

MNIST-C's files cannot be downloaded here, so these are re-implementations at one severity, close to the paper's
definitions; where they differ (docs/attacks.md): fog and spatter use Gaussian-filtered noise instead of a plasma
fractal and scikit-image's spatter; motion blur is a line kernel (not Wand's); glass blur, dotted line and zigzag
follow the descriptions, not the exact code; canny edges use genzoo's own Canny detector (data/pairs.py).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from scipy import ndimage

from genzoo.errors import GenzooError

Fn = Callable[[np.ndarray, np.random.Generator], np.ndarray]  # one (H, W) float image in [0, 1] -> same
CORRUPTIONS: dict[str, Fn] = {}


def corruption(name: str):
    def deco(fn: Fn) -> Fn:
        CORRUPTIONS[name] = fn
        return fn
    return deco


def _affine(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply the 2x2 matrix m about the image centre (output coordinates -> input coordinates: m^-1)."""
    c = (np.array(img.shape) - 1) / 2.0
    inv = np.linalg.inv(m)
    return ndimage.affine_transform(img, inv, offset=c - inv @ c, order=1, mode="constant", cval=0.0)


def _sign(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


@corruption("shot_noise")
def shot_noise(img, rng):
    return rng.poisson(img * 60.0) / 60.0  # MNIST-C: c = 60 photons at full intensity


@corruption("impulse_noise")
def impulse_noise(img, rng):
    out = img.copy()
    u = rng.random(img.shape)
    out[u < 0.27 / 2] = 0.0  # salt and pepper, amount 0.27 as in MNIST-C
    out[(u >= 0.27 / 2) & (u < 0.27)] = 1.0
    return out


@corruption("glass_blur")
def glass_blur(img, rng):
    x = ndimage.gaussian_filter(img, 0.7)  # sigma 0.7, max delta 1, 2 iterations (ImageNet-C severity 1)
    h, w = x.shape
    for _ in range(2):
        for i in range(h - 1, 0, -1):
            for j in range(w - 1, 0, -1):
                di, dj = rng.integers(-1, 2, size=2)
                i2, j2 = min(max(i + di, 0), h - 1), min(max(j + dj, 0), w - 1)
                x[i, j], x[i2, j2] = x[i2, j2], x[i, j]
    return ndimage.gaussian_filter(x, 0.7)


@corruption("motion_blur")
def motion_blur(img, rng):
    n = 9
    k = np.zeros((n, n))
    k[n // 2, :] = 1.0
    k = ndimage.rotate(k, rng.uniform(-45, 45), reshape=False, order=1)
    return ndimage.convolve(img, k / k.sum(), mode="constant")


@corruption("shear")
def shear(img, rng):
    return _affine(img, np.array([[1.0, 0.0], [_sign(rng) * rng.uniform(0.5, 0.8), 1.0]]))


@corruption("scale")
def scale(img, rng):
    return _affine(img, np.eye(2) * rng.uniform(0.5, 0.65))


@corruption("rotate")
def rotate(img, rng):
    return ndimage.rotate(img, _sign(rng) * rng.uniform(30, 50), reshape=False, order=1)


@corruption("brightness")
def brightness(img, rng):
    return img + 0.5  # MNIST-C: +0.5 on the HSV value channel; grey images: on the intensity


@corruption("translate")
def translate(img, rng):
    return ndimage.shift(img, (_sign(rng) * rng.integers(4, 7), _sign(rng) * rng.integers(4, 7)), order=0)


@corruption("stripe")
def stripe(img, rng):
    out = img.copy()
    w = img.shape[1]
    j = int(rng.integers(w // 4, 3 * w // 4))
    out[:, j:j + 3] = 1.0 - out[:, j:j + 3]  # a band of inverted columns
    return out


@corruption("fog")
def fog(img, rng):
    f = ndimage.gaussian_filter(rng.standard_normal(img.shape), 3.0)
    f = (f - f.min()) / max(f.max() - f.min(), 1e-8)
    return (img + 0.6 * f) * img.max() / (img.max() + 0.6)


@corruption("spatter")
def spatter(img, rng):
    blobs = ndimage.gaussian_filter(rng.standard_normal(img.shape), 1.0)
    mask = blobs > np.quantile(blobs, 0.93)
    return np.where(mask, 0.7, img)


def _draw(img: np.ndarray, points: list[tuple[float, float]], dotted: bool) -> np.ndarray:
    from PIL import Image, ImageDraw

    h, w = img.shape
    layer = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(layer)
    if dotted:
        (x0, y0), (x1, y1) = points
        for t in np.linspace(0, 1, 12):
            d.point((x0 + t * (x1 - x0), y0 + t * (y1 - y0)), fill=255)
    else:
        d.line(points, fill=255, width=1)
    return np.maximum(img, np.asarray(layer, dtype=np.float64) / 255.0)


@corruption("dotted_line")
def dotted_line(img, rng):
    h, w = img.shape
    return _draw(img, [(rng.uniform(0, w / 3), rng.uniform(0, h)), (rng.uniform(2 * w / 3, w), rng.uniform(0, h))],
                 dotted=True)


@corruption("zigzag")
def zigzag(img, rng):
    h, w = img.shape
    xs = np.linspace(rng.uniform(0, 4), w - rng.uniform(1, 4), 6)
    ys = rng.uniform(h / 4, 3 * h / 4) + np.array([(-1) ** i for i in range(6)]) * rng.uniform(3, 6)
    return _draw(img, list(zip(xs.tolist(), ys.tolist())), dotted=False)


def canny_edges(x: torch.Tensor) -> torch.Tensor:
    from genzoo.data.pairs import edge_map

    return 255 - edge_map(x)  # white edges on black, like MNIST-C


def corrupt(x: torch.Tensor, name: str, seed: int = 0) -> torch.Tensor:
    """One corruption of uint8 images (N, C, H, W), deterministic for a seed."""
    if name == "canny_edges":
        out = canny_edges(x)
        return out.expand_as(x).contiguous() if x.shape[1] != 1 else out
    if name not in CORRUPTIONS:
        raise GenzooError(f"unknown corruption '{name}'; choose from {', '.join(NAMES)}")
    rng = np.random.default_rng(seed)
    fn = CORRUPTIONS[name]
    a = x.numpy().astype(np.float64) / 255.0  # (N, C, H, W)
    out = np.stack([np.stack([fn(ch, rng) for ch in im]) for im in a])
    return torch.from_numpy(np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8))


NAMES = tuple(CORRUPTIONS) + ("canny_edges",)


def random_corruption(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Each image through one corruption drawn at random (or none): the `--augment corruptions` defence."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(NAMES) + 1, size=len(x))
    out = x.clone()
    for k, name in enumerate(NAMES):
        idx = torch.from_numpy(np.flatnonzero(pick == k))
        if len(idx):
            out[idx] = corrupt(x[idx], name, seed + k)
    return out


def corruption_robustness(classifier: str, dataset: str | None = None, names=None, n: int = 1000, seed: int = 0,
                          out: str | Path | None = None, root: str | None = None, device: str | None = None) -> dict:
    """Accuracy of a classifier on the first n test images under each corruption; stamped like attack.json."""
    from genzoo import __version__
    from genzoo.attack.evaluate import predict, resolve_dataset
    from genzoo.attack.gradient import PixelModel
    from genzoo.metrics.classifier import load_classifier_spec as load_target
    from genzoo.data import load_dataset
    from genzoo.io import atomic_write_bytes

    names = list(names or NAMES)
    for c in names:
        if c not in NAMES:
            raise GenzooError(f"unknown corruption '{c}'; choose from {', '.join(NAMES)}")
    from genzoo.algos.base import resolve_device

    dev = resolve_device(device or "auto")
    net, meta = load_target(classifier, dev)
    dataset = resolve_dataset(meta, dataset)
    data = load_dataset(dataset, "test", root)
    x, y = data.x[:n], data.y[:n]
    model = PixelModel(net).eval()
    yd = y.to(dev)
    acc = {"clean": (predict(model, x.to(dev).float() / 255) == yd).float().mean().item()}
    examples = {}
    for c in names:
        xc = corrupt(x, c, seed)  # the corruptions are NumPy/Pillow functions on the CPU
        acc[c] = (predict(model, xc.to(dev).float() / 255) == yd).float().mean().item()
        examples[c] = xc[0]
    mean = float(np.mean([acc[c] for c in names]))
    result = {"genzoo_version": __version__, "classifier": meta["name"], "dataset": dataset, "split": "test",
              "n": len(y), "seed": seed, "accuracy": acc, "mean_corruption_accuracy": mean}
    if out:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / "robustness.json", json.dumps(result, indent=2).encode())
        from genzoo import images
        grid = torch.stack([x[0]] + [examples[c] for c in names])
        atomic_write_bytes(out / "robustness.png", _grid_png(grid, images))
    return result


def _grid_png(x: torch.Tensor, images) -> bytes:
    from PIL import Image
    import io

    n, c, h, w = x.shape
    row = x.permute(2, 0, 3, 1).reshape(h, n * w, c).squeeze(-1).numpy()  # (H, N*W[, C])
    img = Image.fromarray(row).resize((n * w * 3, h * 3), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def format_robustness(result: dict) -> str:
    lines = [f"{result['classifier']} on {result['dataset']}:test (n={result['n']}, seed {result['seed']})"]
    lines += [f"{k:>14} {100 * v:6.2f}%" for k, v in result["accuracy"].items()]
    lines.append(f"{'mean':>14} {100 * result['mean_corruption_accuracy']:6.2f}% (over corruptions)")
    return "\n".join(lines)
