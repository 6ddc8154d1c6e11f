"""Latent-space tools: interpolation between points of z, and the codes of conditional GANs.

Slerp is the default for Gaussian z: in d dimensions samples concentrate near the sphere of
radius sqrt(d), and the straight line between two of them passes through lower norms
(about sqrt(d/2) at the midpoint of two orthogonal points), where G has seen few inputs
(White 2016, arXiv:1609.04468). Slerp keeps the norm on the way.
"""
from __future__ import annotations

from pathlib import Path

import torch

from genzoo.errors import GenzooError
from genzoo.run import Run, check_label, generate_uint8, with_code  # noqa: F401 (codes live beside Run)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """a, b: (D,); t: (T,) -> (T, D)."""
    return a[None] + (b - a)[None] * t[:, None]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of the directions, with the norm interpolated linearly. (T, D)"""
    na, nb = a.norm(), b.norm()
    ua, ub = a / na, b / nb
    omega = torch.arccos((ua * ub).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if omega.abs() < 1e-4:  # (nearly) parallel: slerp degenerates to lerp
        return lerp(a, b, t)
    so = torch.sin(omega)
    dirs = (torch.sin((1 - t) * omega)[:, None] * ua + torch.sin(t * omega)[:, None] * ub) / so  # (T, D) unit
    return dirs * (na + (nb - na) * t)[:, None]


INTERPOLATORS = {"lerp": lerp, "slerp": slerp}


def seeded_latents(seeds: list[int], draw) -> torch.Tensor:
    """One latent per seed, drawn exactly as `genzoo sample --seed S --n 1` draws it, by
    ``draw(n, generator)`` (a model's ``sample_z``). (S, D)"""
    return torch.stack([draw(1, torch.Generator().manual_seed(s))[0].cpu() for s in seeds])


def class_grid_latents(algo, cols: int, seed: int) -> torch.Tensor:
    """One row per class over shared noise: row y, column j = (z_j, y). (K * cols, D)"""
    base = algo.sample_z(cols, torch.Generator().manual_seed(seed))
    return torch.cat([with_code(algo, base, y) for y in range(algo.code_classes)])


def traversal_latents(algo, code: int, steps: int, seed: int, span: float = 2.0) -> torch.Tensor:
    """InfoGAN traversal: rows are categories, columns sweep continuous code ``code`` over
    [-span, span]; one shared z, the other continuous codes at 0. (info_cat * steps, D)"""
    if algo.cond != "info":
        raise GenzooError("traverse needs an InfoGAN run (recipe infogan)")
    if not 0 <= code < algo.info_cont:
        raise GenzooError(f"--code {code} is outside 0..{algo.info_cont - 1} (the run's continuous codes)")
    z = algo.sample_z(1, torch.Generator().manual_seed(seed))
    zero = {i: 0.0 for i in range(algo.info_cont)}
    rows = []
    for c in range(algo.info_cat):
        rows += [with_code(algo, z, c, {**zero, code: float(v)}) for v in torch.linspace(-span, span, steps)]
    return torch.cat(rows)


def path(points: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """Rows of ``steps`` latents from each point to the next. (len(points) - 1, steps, D)"""
    t = torch.linspace(0, 1, steps)
    fn = INTERPOLATORS[method]
    return torch.stack([fn(points[i], points[i + 1], t) for i in range(len(points) - 1)])


def encoded_latents(algo, data, indices: list[int]) -> torch.Tensor:
    """Posterior means (AE: codes) of the chosen images of ``data`` (AE/VAE runs: ``Run.traits.encoder``). (S, D)"""
    bad = [i for i in indices if not 0 <= i < len(data)]
    if bad:
        raise GenzooError(f"--images {bad[0]} is outside 0..{len(data) - 1} (the test split of {data.name})")
    b = data.batch(torch.tensor(indices))
    return algo.encode(b["x"], b.get("y") if algo.labelled else None).cpu()


def render_interpolation(algo, points: torch.Tensor, steps: int, method: str, out: Path) -> None:
    """Decode the path through the latents ``points`` (S, D): rows in a PNG, or a ping-pong GIF."""
    from PIL import Image

    from genzoo import images

    if len(points) < 2 or steps < 2:
        raise GenzooError("interpolation needs at least two points and --steps >= 2")
    if out.suffix.lower() not in (".png", ".gif"):
        raise GenzooError(f"--out must end in .png or .gif, got '{out.name}'")
    zs = path(points, steps, method)                             # (pairs, steps, D)
    x = generate_uint8(algo, zs.flatten(0, 1))                   # (pairs * steps, C, H, W)
    scale = images.display_scale(x)
    if out.suffix.lower() == ".gif":
        frames = [images.to_pil(images.make_grid(x[i::steps], nrow=len(points) - 1)) for i in range(steps)]
        frames = [f.resize((f.width * scale, f.height * scale), Image.Resampling.NEAREST) for f in frames]
        images.save_gif(out, frames + frames[-2:0:-1], ms_per_frame=120)  # ping-pong, endpoints once
    else:
        images.save_grid(out, x, nrow=steps)


def interpolate(run: Run, seeds: list[int] | None = None, images: list[int] | None = None, steps: int = 10,
                method: str = "slerp", out: Path | None = None) -> str:
    """Walk between the latents of ``seeds`` (GAN/VAE prior draws) or the encodings of test images ``images``
    (AE/VAE runs; their default). Writes rows (PNG) or an animation (GIF); returns what it wrote."""
    if seeds and images:
        raise GenzooError("give --seeds (points drawn from the prior) or --images (encoded test images), not both")
    run.require("generates", "interpolation")
    if run.kind == "toy":
        raise GenzooError("interpolation draws images; this run generates 2-D points (see `genzoo sample`)")
    out = Path(out or run.path / "interpolation.png")
    if images or (run.traits.encoder and not seeds):
        run.require("encoder", "--images")
        points = encoded_latents(run.algo, run.dataset("test"), images or [0, 1])
    else:
        points = seeded_latents(seeds or [0, 1], run.algo.sample_z)
    render_interpolation(run.algo, points, steps, method, out)
    return f"wrote {len(points) - 1} {method} path(s) of {steps} steps to {out}"


def traverse(run: Run, code: int, steps: int = 9, seed: int = 0, span: float = 2.0, out: Path | None = None) -> str:
    """InfoGAN: one row per category, columns sweeping continuous code ``code``; writes a PNG."""
    from genzoo import images

    if steps < 2:
        raise GenzooError("--steps must be at least 2")
    run.require("generates", "a traversal")
    u8 = generate_uint8(run.algo, traversal_latents(run.algo, code, steps, seed, span))
    out = Path(out or run.path / f"traverse_code{code}.png")
    images.save_grid(out, u8, nrow=steps)
    return f"wrote a {run.algo.info_cat} x {steps} traversal of continuous code {code} (step {run.step}) to {out}"
