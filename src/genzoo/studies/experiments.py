"""``genzoo experiment zdim``: the z-dimension experiment: does a small z collapse onto a few digits?

One dcgan per z_dim, same seed, same data order, each with its fixed noise batch rendered over
training. Afterwards, 10,000 samples per model are classified by the evaluation classifier:
- ``zdim_modes.png``  the class-frequency histograms side by side (the seed's figure);
- ``zdim.md`` / ``zdim.json``  KL to uniform, classes covered, fid[lenet-*] and the grid "flicker":
  the fraction of fixed-noise cells whose predicted class changes between consecutive snapshots
  in the last half of training;
- a short summary comparing with the seed's observations.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

from genzoo.training import checkpoint
from genzoo.io import atomic_write_bytes
from genzoo.metrics.classifier import extractor_key, load_classifier
from genzoo.errors import GenzooError
from genzoo.losses import GAN_LOSSES
from genzoo.api import train
from genzoo.evaluation import Options, measure_samples
from genzoo.metrics.features import extract
from genzoo.run import Run, generate_uint8
from genzoo.training.checkpoint import ckpt_dir


def _fixed_batch_predictions(run: Run, net, n_grid: int, seed: int):
    """Predicted class of every fixed-noise cell at every kept checkpoint, [(step, (n_grid,))]."""
    out = []
    for path in run.checkpoints:
        algo = run.algo_at(path)
        z = algo.sample_z(n_grid, torch.Generator().manual_seed(seed + 1))  # the loop's fixed noise
        out.append((checkpoint.step_of(path), extract(net, generate_uint8(algo, z)).probs.argmax(1)))
    return out


def flicker(preds: list[tuple[int, np.ndarray]]) -> float:
    """Mean fraction of cells whose predicted class changes between consecutive snapshots, last half."""
    total = preds[-1][0]
    late = [p for s, p in preds if s >= total / 2]
    if len(late) < 2:
        return float("nan")
    return float(np.mean([(a != b).mean() for a, b in zip(late[:-1], late[1:])]))


def _measure(images_u8: torch.Tensor, dataset: str, root: str | None, which: tuple[str, ...]) -> tuple[dict, dict]:
    """The evaluation's own sample metrics of ``images_u8`` (the studies never call the formulas themselves)."""
    result, _, stamp = measure_samples(images_u8, dataset, root, Options(metrics=which))
    return result["metrics"], stamp


def _classifier(dataset: str, n: int, fid_needed: bool):
    """The dataset's evaluation classifier, checked before any training (FID needs n > its feature size)."""
    net = load_classifier(extractor_key(dataset))[0]
    if fid_needed and n <= net.feature_dim:
        raise GenzooError(f"--n must exceed the classifier's {net.feature_dim} feature dimensions for FID, got {n}")
    return net


def zdim(dims: list[int], steps: int, dataset: str, out: Path, root: str | None = None, seed: int = 0,
         n: int = 10_000, snapshots: int = 10, progress: bool = True, device: str | None = None) -> dict:
    if not dims or min(dims) < 1:
        raise GenzooError("--dims needs positive integers, e.g. 100,50,10,2,1")
    net = _classifier(dataset, n, fid_needed=False)
    which = ("fid", "modes") if n > net.feature_dim else ("modes",)
    out = Path(out)
    every = max(1, steps // snapshots)
    rows = []
    for d in dims:
        r = _trained("dcgan", dataset, out / f"zdim-{d}", steps, seed, every, root, progress, device,
                     [f"model.z_dim={d}"])
        preds = _fixed_batch_predictions(r, net, r.cfg.train.n_grid, seed)
        m, stamp = _measure(r.sample(n, seed + 7), dataset, root, which)
        h = m["modes"]
        fid_key = f"fid[{stamp['extractor']}]"
        rows.append({"z_dim": d, "counts": h["counts"], "kl_to_uniform": h["kl_to_uniform"],
                     "classes_covered": h["classes_covered"],
                     fid_key: m[fid_key]["value"] if fid_key in m else float("nan"),
                     "flicker": flicker(preds), "n": n, "steps": steps, "seed": seed})
    result = {"dataset": dataset, "extractor": stamp["extractor"], "reference": stamp["reference"], "rows": rows,
              "class_names": stamp["class_names"]}
    atomic_write_bytes(out / "zdim.json", json.dumps(result, indent=1).encode())
    atomic_write_bytes(out / "zdim.md", report(result).encode())
    _figure(result, out / "zdim_modes.png")
    return result


def _trained(recipe: str, dataset: str, run_dir: Path, steps: int, seed: int, every: int, root: str | None,
             progress: bool, device: str | None = None, extra: list[str] = ()) -> Run:
    """A study's run: trained with checkpoints every ``every`` steps (all kept), or reused when already there."""
    overrides = [f"train.steps={steps}", f"train.seed={seed}", f"train.sample_every={every}",
                 f"train.ckpt_every={every}", "train.keep_ckpts=0", f"train.log_every={min(10, every)}", *extra]
    if root:
        overrides.append(f"data.root={root}")
    last = checkpoint.latest(ckpt_dir(run_dir))
    if last is None:
        return train(recipe, dataset=dataset, out=run_dir, overrides=overrides, progress=progress, device=device)
    run = Run.open(run_dir, device)
    if run.step < steps:
        return train(resume=run_dir, steps=steps, progress=progress, device=device, data_root=root)
    return run


def report(result: dict) -> str:
    fid_key = f"fid[{result['extractor']}]"
    lines = ["| z_dim | KL(p‖U) | classes ≥ 1% | " + fid_key + " | flicker |", "|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['z_dim']} | {r['kl_to_uniform']:.3f} | {r['classes_covered']} | {r[fid_key]:.2f} | "
                     f"{r['flicker']:.3f} |")
    full = [r["z_dim"] for r in result["rows"] if r["classes_covered"] == len(result["class_names"])]
    collapsed = [r["z_dim"] for r in result["rows"] if r["classes_covered"] < len(result["class_names"])]
    worst = max(result["rows"], key=lambda r: r["kl_to_uniform"])
    lines += ["", f"Summary ({result['rows'][0]['steps']} steps each, seed {result['rows'][0]['seed']}, "
                  f"{result['rows'][0]['n']} samples per model): all classes covered for z_dim "
                  f"{full or 'none'}; some class below 1% for z_dim {collapsed or 'none'}; the least uniform "
                  f"histogram is z_dim={worst['z_dim']} (KL {worst['kl_to_uniform']:.3f}). The expectation from DCGAN practice: "
                  "100 and 10 cover all digits while 2 and 1 collapse onto a few."]
    return "\n".join(lines) + "\n"


def _figure(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, axes = plt.subplots(1, len(rows), figsize=(3 * len(rows), 2.8), dpi=90, sharey=True, squeeze=False)
    for ax, r in zip(axes[0], rows):
        p = np.array(r["counts"]) / sum(r["counts"])
        ax.bar(range(len(p)), p)
        ax.axhline(1 / len(p), color="k", ls="--", lw=1)
        ax.set_xticks(range(len(p)))
        ax.set_xticklabels(result["class_names"] if len(max(result["class_names"], key=len)) <= 2 else
                           range(len(p)), fontsize=7)
        ax.set_title(f"z_dim = {r['z_dim']}  ({r['classes_covered']} classes ≥ 1%)", fontsize=9)
    axes[0][0].set_ylabel("frequency")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


# -- ``genzoo experiment wgan-signal``: does a loss track sample quality? (can training be judged without looking at samples?) --------
def _signal_at(rows: list[dict], key: str, step: int, window: int) -> float:
    """Mean of a logged scalar over the ``window`` steps up to ``step`` (losses are noisy per step)."""
    vals = [r[key] for r in rows if r.get(key) is not None and step - window < r["step"] <= step]
    return float(np.mean(vals)) if vals else float("nan")


def _spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic)


def wgan_signal(recipes: list[str], steps: int, dataset: str, out: Path, root: str | None = None, seed: int = 0,
                n: int = 2000, snapshots: int = 10, progress: bool = True, device: str | None = None) -> dict:
    """Train each recipe with checkpoints at ``snapshots`` points; at each, fid[lenet-*] on n samples and the
    training signal averaged over the preceding interval: the critic's Wasserstein estimate for wgan/wgan-gp,
    D's loss otherwise. Reports Spearman's rank correlation of signal and FID per recipe."""
    _classifier(dataset, n, fid_needed=True)
    every = max(1, steps // snapshots)
    rows = []
    for recipe in recipes:
        r = _trained(recipe, dataset, Path(out) / recipe, steps, seed, every, root, progress, device)
        signal = "wasserstein" if GAN_LOSSES[r.cfg.loss.name].critic else "loss_d"
        series, logged = [], r.log
        for path in r.checkpoints:
            algo, step = r.algo_at(path), checkpoint.step_of(path)
            m, stamp = _measure(generate_uint8(algo, algo.sample_z(n, torch.Generator().manual_seed(seed + 7))),
                                dataset, root, ("fid",))
            series.append({"step": step, "fid": m[f"fid[{stamp['extractor']}]"]["value"],
                           "signal": _signal_at(logged, signal, step, every)})
        rho = _spearman([s["signal"] for s in series], [s["fid"] for s in series])
        rows.append({"recipe": recipe, "signal": signal, "spearman": rho, "series": series, "steps": steps})
    result = {"dataset": dataset, "extractor": stamp["extractor"], "n": n, "rows": rows}
    atomic_write_bytes(Path(out) / "wgan_signal.json", json.dumps(result, indent=1).encode())
    _signal_figure(result, Path(out) / "wgan_signal.png")
    return result


def signal_report(result: dict) -> str:
    lines = [f"| recipe | signal | Spearman ρ(signal, fid[{result['extractor']}]) | fid first → last |",
             "|---|---|---|---|"]
    for r in result["rows"]:
        s = r["series"]
        lines.append(f"| {r['recipe']} | {r['signal']} | {r['spearman']:+.2f} | {s[0]['fid']:.1f} → {s[-1]['fid']:.1f} |")
    lines.append("\nA signal that tracks quality has ρ near +1 (it falls as FID falls). Arjovsky et al. 2017 (Fig. 3) "
                 "report the WGAN critic's estimate does; the GAN's D loss does not.")
    return "\n".join(lines) + "\n"


def _signal_figure(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.2), dpi=90, squeeze=False)
    for ax, r in zip(axes[0], rows):
        steps = [s["step"] for s in r["series"]]
        ax.plot(steps, [s["signal"] for s in r["series"]], "o-", color="tab:blue")
        ax.set_ylabel(r["signal"], color="tab:blue")
        ax.set_xlabel("step")
        ax2 = ax.twinx()
        ax2.plot(steps, [s["fid"] for s in r["series"]], "s--", color="tab:red")
        ax2.set_ylabel(f"fid[{result['extractor']}]", color="tab:red")
        ax.set_title(f"{r['recipe']}: Spearman ρ = {r['spearman']:+.2f}", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
