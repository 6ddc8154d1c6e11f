"""Pictures of autoencoders and VAEs: reconstructions, and for 2-D latents the decoded manifold
and the test encodings coloured by label (Kingma & Welling 2014, Fig. 4)."""
from __future__ import annotations

import io
from pathlib import Path

import torch

from genzoo import images
from genzoo.io import atomic_write_bytes
from genzoo.data import Dataset, to_uint8


def reconstructions(algo, test: Dataset, path: Path, n: int = 16) -> None:
    """Rows of ``n`` test inputs, each followed by a row of their reconstructions."""
    idx = torch.arange(min(n * 2, len(test)))
    b = test.batch(idx)
    rec = torch.cat([algo.reconstruct(x, b.get("y")[i] if algo.labelled else None)
                     for i, x in zip(idx.split(n), b["x"].split(n))])
    rows = []
    for xs, rs in zip(b["x"].split(n), rec.split(n)):
        rows += [to_uint8(xs), to_uint8(rs.cpu())]
    images.save_grid(path, torch.cat(rows), nrow=n)


def latent_manifold(algo, path: Path, steps: int = 20, span: float = 2.5, label: int | None = None) -> None:
    """Decode a steps x steps grid of z over [-span, span]^2 (2-D latents; span in prior std units)."""
    t = torch.linspace(-span, span, steps)
    zy, zx = torch.meshgrid(-t, t, indexing="ij")               # rows top to bottom: z2 from +span down
    z = torch.stack([zx.flatten(), zy.flatten()], 1)            # (steps^2, 2)
    if algo.labelled:
        z = torch.cat([z, torch.nn.functional.one_hot(torch.full((len(z),), label or 0),
                                                      algo.num_classes).float()], 1)
    images.save_grid(path, to_uint8(algo.generate(z).cpu()), nrow=steps)


def latent_scatter(algo, test: Dataset, path: Path, n: int = 5000, title: str = "") -> None:
    """Posterior means of test images in the 2-D latent plane, coloured by label."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(n, len(test))
    b = test.batch(torch.arange(n))
    y = b.get("y")
    z = torch.cat([algo.encode(x, None if y is None or not algo.labelled else yy)
                   for x, yy in zip(b["x"].split(1000), (y if y is not None else torch.zeros(n)).split(1000))])
    z = z[:, :2].cpu().numpy()
    fig, ax = plt.subplots(figsize=(5.6, 4.8), dpi=100)
    sc = ax.scatter(z[:, 0], z[:, 1], s=3, c=None if y is None else y.numpy(), cmap="tab10", alpha=0.7)
    if y is not None:
        names = test.class_names or [str(i) for i in range(int(y.max()) + 1)]
        handles = [plt.Line2D([], [], marker="o", ls="", color=sc.cmap(sc.norm(i)), label=names[i])
                   for i in range(len(names))]
        ax.legend(handles=handles, fontsize=7, markerscale=1.2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel("z1 (posterior mean)")
    ax.set_ylabel("z2")
    ax.set_title(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def autoencoder_figures(algo, test: Dataset, run: Path, title: str = "") -> list[Path]:
    """reconstructions.png always; latent_manifold.png and latent_scatter.png for 2-D latents."""
    out = [run / "reconstructions.png"]
    reconstructions(algo, test, out[0])
    if algo.z_dim == 2:
        out += [run / "latent_manifold.png", run / "latent_scatter.png"]
        latent_manifold(algo, out[1])
        latent_scatter(algo, test, out[2], title=title)
    return out
