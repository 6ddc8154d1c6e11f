"""``genzoo evaluate``: generate from a run, measure, write metrics.json and pictures."""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from genzoo import __version__
from genzoo.algos.gan import GAN
from genzoo.checkpoint import atomic_write_bytes
from genzoo.data.toy import mode_centers, mode_std
from genzoo.errors import GenzooError
from genzoo.metrics import toy_metrics
from genzoo.run import open_run


def evaluate_run(run: Path, n: int | None = None, seed: int = 0) -> dict:
    cfg, algo, meta = open_run(run)
    spec = cfg.data.dataset
    if not spec.startswith("toy:"):
        raise GenzooError(f"{run}: image-run metrics (FID/KID on classifier features) are not available in this "
                          "version of genzoo; toy runs are supported")
    name = spec.split(":", 1)[1]
    centers = mode_centers(name)
    if centers is None:
        raise GenzooError(f"{spec} has no discrete modes; mode metrics need toy:ring8 or toy:grid25")
    n = n or 2500
    z = algo.sample_z(n, torch.Generator().manual_seed(seed))
    x = algo.generate(z).cpu()
    metrics = toy_metrics(x, centers, mode_std(name))
    result = {"genzoo_version": __version__, "run": str(run), "step": meta["step"], "dataset": spec,
              "recipe": cfg.recipe, "seed": seed, "metrics": metrics}
    atomic_write_bytes(Path(run) / "metrics.json", json.dumps(result, indent=1).encode())
    if isinstance(algo, GAN):
        toy_figure(algo, x, centers, Path(run) / "toy.png", title=f"{cfg.recipe} on {spec}, step {meta['step']}")
    return result


@torch.no_grad()
def toy_figure(algo: GAN, samples: torch.Tensor, centers: torch.Tensor, path: Path, title: str = "") -> None:
    """Samples over the true modes, on D's output as a heat map (as GAN Lab draws it)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lim = float(centers.abs().max()) * 1.5 + 0.5
    ticks = torch.linspace(-lim, lim, 200)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1).to(algo.device)  # (200*200, 2)
    algo.D.eval()
    out = algo.D(grid).float().cpu()
    algo.D.train()
    critic = algo.loss.critic or not algo.loss.uses_targets
    heat = (out if critic else torch.sigmoid(out)).view(200, 200).numpy()
    fig, ax = plt.subplots(figsize=(5, 4.4), dpi=90)
    im = ax.imshow(heat, extent=(-lim, lim, -lim, lim), origin="lower", cmap="RdBu", alpha=0.75,
                   vmin=None if critic else 0, vmax=None if critic else 1)
    fig.colorbar(im, ax=ax, label="D(x)" if not critic else "critic score")
    s = samples.numpy()
    ax.scatter(s[:, 0], s[:, 1], s=2, c="k", alpha=0.4, label="generated")
    ax.scatter(centers[:, 0], centers[:, 1], s=70, marker="x", c="gold", linewidths=2, label="true modes")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def format_table(result: dict) -> str:
    rows = [(k, v) for k, v in result["metrics"].items()]
    width = max(len(k) for k, _ in rows)
    lines = [f"{result['recipe']} on {result['dataset']} at step {result['step']}"]
    for k, v in rows:
        lines.append(f"  {k:<{width}}  {v:.4f}" if isinstance(v, float) else f"  {k:<{width}}  {v}")
    return "\n".join(lines)


