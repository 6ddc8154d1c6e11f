"""`genzoo sample` as functions: grids, .npz files, class grids, 2-D scatter plots and pix2pix triplets."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from genzoo import images
from genzoo.errors import GenzooError, at_least_1
from genzoo.run import Run, generate_uint8


def write_samples(run: Run, n: int, seed: int = 0, label: int | None = None, grid_by_class: bool = False,
                  out: str | Path | None = None, npz: str | Path | None = None, variations: int | None = None,
                  dist=None) -> str:
    """Generate from a run and write a PNG grid (default RUN_DIR/samples.png) or an .npz of uint8 images
    (N, H, W, C) (2-D runs: a scatter plot or an .npz of points). Returns the line to print.
    ``dist`` (under torchrun): each rank generates its share of the same latents; rank 0 alone writes."""
    at_least_1(n=n)
    if variations:
        raise GenzooError("--variations is for pix2pix runs")
    nrow = None
    if grid_by_class:
        from genzoo.explore.latent import check_label, class_grid_latents
        check_label(run.algo, 0)
        nrow = n if n != 64 else 10
        x = generate_uint8(run.algo, class_grid_latents(run.algo, nrow, seed), dist)
    else:
        x = run.sample(n, seed, label, dist)
    if dist is not None and dist.active:
        return dist.main_result(_write, run, x, n, out, npz, nrow)
    return _write(run, x, n, out, npz, nrow)


def _write(run: Run, x, n: int, out, npz, nrow) -> str:
    if run.kind == "toy":
        return _write_points(run, x.numpy(), n, out, npz)
    if npz:
        np.savez(npz, images=x.permute(0, 2, 3, 1).numpy())  # (N, H, W, C)
        dest = npz
    else:
        dest = Path(out or run.path / "samples.png")
        images.save_grid(dest, x, nrow=nrow)
    return f"wrote {len(x)} samples from step {run.step} to {dest}"


def _write_points(run: Run, pts: np.ndarray, n: int, out, npz) -> str:
    from genzoo.data.toy import mode_centers

    dest = Path(npz or out or run.path / "samples.png")
    if npz:
        np.savez(dest, points=pts)
    else:
        centers = mode_centers(run.cfg.data.dataset.partition(":")[2])
        images.scatter_png(pts, dest, None if centers is None else centers.numpy(),
                           title=f"{run.cfg.recipe} step {run.step}")
    return f"wrote {n} samples to {dest}"


def sample_pix2pix(run: Run, n: int, variations: int | None = None, out: str | Path | None = None,
                   other: bool = False) -> str:
    """condition | output | target triplets for the first n (at most 64) test pairs, or ``variations`` outputs
    per input with dropout on. ``other``: flags for image runs were given (an error here)."""
    from genzoo.explore.translate import save_triplets
    from genzoo.explore.translate import variations as draw_variations

    if other:
        raise GenzooError("pix2pix runs take --n, --variations and --out")
    n = min(n, 64)
    if variations:
        dest = Path(out or run.path / "variations.png")
        d = draw_variations(run, min(n, 8), variations, dest)
        return (f"wrote {d['n']} inputs x {d['k']} outputs (dropout on) to {dest}\n"
                f"mean L1 between outputs for the same input: {d['within_input_l1']:.4f}; between outputs for "
                f"different inputs: {d['across_inputs_l1']:.4f} (ratio {d['ratio']:.3f})")
    dest = Path(out or run.path / "samples.png")
    save_triplets(run, n, dest)
    return f"wrote {n} condition | output | target triplets from step {run.step} to {dest}"
