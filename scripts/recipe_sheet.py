"""One figure with a sample grid per run (used for the README's recipe comparison).

    python scripts/recipe_sheet.py OUT.png RUN_DIR [RUN_DIR ...]

Each panel is 25 samples (seed 0) from the run's latest checkpoint, titled with its recipe and step.
"""
import sys

import matplotlib
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genzoo import images  # noqa: E402
from genzoo.data import to_uint8  # noqa: E402
from genzoo.run import open_run  # noqa: E402

out, runs = sys.argv[1], sys.argv[2:]
fig, axes = plt.subplots(1, len(runs), figsize=(2.6 * len(runs), 2.9), dpi=100, squeeze=False)
for ax, run in zip(axes[0], runs):
    cfg, algo, meta = open_run(run)
    x = to_uint8(algo.generate(algo.sample_z(25, torch.Generator().manual_seed(0))))
    grid = images.make_grid(x, nrow=5)
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray")
    ax.set_title(f"{cfg.recipe}, step {meta['step']}", fontsize=9)
    ax.axis("off")
fig.savefig(out, bbox_inches="tight")
print(f"wrote {out}")
