"""2-D toy runs: mode coverage on 2,500 samples (VEEGAN/PacGAN protocol) and the toy plot."""
from __future__ import annotations

import io
from pathlib import Path

import torch

from genzoo import __version__
from genzoo.data.toy import mode_centers, mode_std
from genzoo.errors import GenzooError
from genzoo.io import atomic_write_bytes
from genzoo.metrics import toy_metrics
from genzoo.run import Run


def evaluate_toy(run: Run, n: int, seed: int) -> dict:
    """Mode coverage of n samples (the run's metrics.json is written by the caller); draws toy.png."""
    name = run.cfg.data.dataset.split(":", 1)[1]
    centers = mode_centers(name)
    if centers is None:
        raise GenzooError(f"{run.cfg.data.dataset} has no discrete modes; mode metrics need toy:ring8 or toy:grid25")
    x = run.sample(n, seed)  # (n, 2) points
    result = {"genzoo_version": __version__, "run": str(run.path), "step": run.step, "dataset": run.cfg.data.dataset,
              "recipe": run.cfg.recipe, "seed": seed, "metrics": toy_metrics(x, centers, mode_std(name))}
    toy_figure(run.algo, x, centers, run.path / "toy.png",
               title=f"{run.cfg.recipe} on {run.cfg.data.dataset}, step {run.step}")
    return result


@torch.no_grad()
def toy_figure(algo, samples: torch.Tensor, centers: torch.Tensor, path: Path, title: str = "") -> None:
    """Samples over the true modes, on D's output as a heat map (as GAN Lab draws it)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lim = float(centers.abs().max()) * 1.5 + 0.5
    ticks = torch.linspace(-lim, lim, 200)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1).to(algo.device)  # (200*200, 2)
    algo.D.eval()
    out = algo.score(grid).float().cpu()  # a packed D judges m copies of each point
    algo.D.train()
    prob = algo.loss.probability  # log-losses: D(x) in [0, 1]; LSGAN, hinge and critics: the raw score
    heat = algo.loss.readable(out).view(200, 200).numpy()
    fig, ax = plt.subplots(figsize=(5, 4.4), dpi=90)
    im = ax.imshow(heat, extent=(-lim, lim, -lim, lim), origin="lower", cmap="RdBu", alpha=0.75,
                   vmin=0 if prob else None, vmax=1 if prob else None)
    fig.colorbar(im, ax=ax, label="D(x)" if prob else "D's score")
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
