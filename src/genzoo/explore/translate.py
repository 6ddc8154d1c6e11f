"""Using a trained pix2pix run: triplet grids, several outputs per input, translating files, metrics."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from genzoo import __version__, images
from genzoo.algos.pix2pix import triplets
from genzoo.io import atomic_write_bytes
from genzoo.data import to_float, to_uint8
from genzoo.errors import GenzooError


def _to01(x: torch.Tensor) -> torch.Tensor:
    return (x.float().clamp(-1, 1) + 1) / 2


def heldout_pairs(cfg, n: int | None = None):
    from genzoo.training.build import dataset_for
    test = dataset_for(cfg, "test")
    with torch.random.fork_rng(devices=[]):  # the inpainting boxes of the test split are one fixed draw
        torch.manual_seed(0)
        return test.batch(torch.arange(min(n or len(test), len(test))))


def translate_all(algo, a: torch.Tensor, dropout: bool = False) -> torch.Tensor:
    return torch.cat([algo.translate(c, dropout).cpu() for c in a.split(500)])


def save_triplets(algo, cfg, n: int, out: Path) -> None:
    b = heldout_pairs(cfg, n)
    images.save_grid(out, to_uint8(triplets(b["a"], translate_all(algo, b["a"]), b["x"])), nrow=12)


def variations(algo, cfg, n: int, k: int, out: Path) -> dict:
    """k outputs per condition with dropout on (the U-Net's only noise): rows condition | k outputs | target.
    Measures how different they are: the mean L1 between two outputs for one input, against the mean
    L1 between outputs for different inputs (the spread a truly one-to-many model could reach)."""
    if k < 2:
        raise GenzooError("--variations needs at least 2 outputs per input")
    b = heldout_pairs(cfg, n)
    torch.manual_seed(0)
    outs = torch.stack([translate_all(algo, b["a"], dropout=True) for _ in range(k)], 1)   # (n, k, C, H, W)
    c = outs.shape[2]
    rows = []
    for i in range(len(outs)):
        a_i, t_i = b["a"][i:i + 1], b["x"][i:i + 1]
        rows += [a_i.expand(-1, c, -1, -1) if a_i.shape[1] != c else a_i, outs[i], t_i]
    images.save_grid(out, to_uint8(torch.cat(rows)), nrow=k + 2)
    o = _to01(outs)
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


def evaluate_pix2pix(run: Path, cfg, algo, meta: dict, n: int | None = None) -> dict:
    """L1, PSNR and SSIM of G(A) against B on the test pairs; colourfulness of outputs and targets for
    colourisation; FID on classifier features where genzoo has a classifier for the target domain."""
    from genzoo.metrics.paired import colourfulness, l1, psnr, ssim

    b = heldout_pairs(cfg, n)
    out, target = translate_all(algo, b["a"]), b["x"]
    o, t = _to01(out), _to01(target)
    base = {"n": len(o), "reference": f"{cfg.data.dataset}:test ({cfg.data.task} pairs)", "genzoo_version": __version__}
    m = {"l1": {"value": l1(o, t).mean().item(), "scale": "[0, 1]", **base},
         "psnr": {"value": psnr(o, t).mean().item(), "unit": "dB", **base},
         "ssim": {"value": ssim(o, t).mean().item(), **base}}
    if o.shape[1] == 3:
        m["colourfulness"] = {"value": colourfulness(o).mean().item(), "target": colourfulness(t).mean().item(),
                              **base}
    m.update(_classifier_fid(cfg, to_uint8(out), to_uint8(target), base))
    result = {"genzoo_version": __version__, "run": str(run), "recipe": cfg.recipe, "step": meta["step"],
              "dataset": cfg.data.dataset, "task": cfg.data.task, "mode": cfg.loss.mode, "metrics": m}
    atomic_write_bytes(Path(run) / "metrics.json", json.dumps(result, indent=1).encode())
    return result


def _classifier_fid(cfg, out_u8: torch.Tensor, target_u8: torch.Tensor, base: dict) -> dict:
    from genzoo.metrics.classifier import extractor_key, load_classifier
    from genzoo.metrics import frechet_distance, gaussian_stats
    from genzoo.metrics.features import extract

    try:
        key = extractor_key(cfg.data.dataset)
        net, clf_meta = load_classifier(key)
    except GenzooError:
        return {}  # no evaluation classifier for this domain (folders of the user's own images)
    if len(out_u8) < 2 or net.in_shape[0] != out_u8.shape[1]:
        return {}
    fo, ft = extract(net, out_u8), extract(net, target_u8)
    name = f"fid[{clf_meta['extractor']}]"
    return {name: {"value": frechet_distance(*gaussian_stats(fo.feats), *gaussian_stats(ft.feats)),
                   "extractor": clf_meta["extractor"], "against": "the test targets", **base}}
