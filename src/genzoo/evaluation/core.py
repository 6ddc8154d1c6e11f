"""``genzoo evaluate``: generate from a run (or take a real split), measure, write metrics.json.

Image runs are measured on the features of the dataset's evaluation classifier (the metric
names carry the extractor, e.g. ``fid[lenet-mnist]``, so they are never confused with Inception
FID) against the real test split; with Inception weights supplied, ``fid[inception-v3]`` and friends
are added (``genzoo.metrics.inception``). Toy runs report mode coverage (VEEGAN/PacGAN protocol).
Every number in metrics.json is stamped with its extractor, sample count, reference split and
the genzoo version.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from genzoo import __version__
from genzoo.algos.gan import GAN
from genzoo.io import atomic_write_bytes
from genzoo.data import load_dataset, to_uint8
from genzoo.data.toy import mode_centers, mode_std
from genzoo.errors import GenzooError
from genzoo.metrics import (METRIC_NAMES, density_coverage, frechet_distance, gaussian_stats, inception_score, kid,
                            mode_histogram, precision_recall, toy_metrics)
from genzoo.run import open_run


def parse_metrics(text: str | None) -> tuple[str, ...]:
    if not text:
        return METRIC_NAMES
    names = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in names if m not in METRIC_NAMES]
    if bad:
        raise GenzooError(f"unknown metric(s) {', '.join(bad)}; valid: {', '.join(METRIC_NAMES)}")
    return names


def image_metrics(fake, ref, stamp: dict, which: tuple[str, ...], out_dir: Path | None, title: str) -> dict:
    """Compute the chosen metrics of fake vs ref features; every entry carries its stamp."""
    ex = stamp["extractor"]
    base = {"extractor": ex, "n": fake.n, "reference": stamp["reference"], "n_reference": stamp["n_reference"],
            "genzoo_version": __version__}
    out: dict[str, dict] = {}
    if "fid" in which:
        out[f"fid[{ex}]"] = {"value": frechet_distance(*gaussian_stats(fake.feats), *gaussian_stats(ref.feats)), **base}
    if "kid" in which:
        mean, std = kid(ref.feats, fake.feats)
        out[f"kid[{ex}]"] = {"value": mean, "std": std, "subsets": 100,
                             "subset_size": min(1000, fake.n, ref.n), **base}
    if "is" in which:
        mean, std = inception_score(fake.probs)
        out[f"is[{ex}]"] = {"value": mean, "std": std, **base}
    if "pr" in which:
        p, r = precision_recall(ref.feats, fake.feats, k=3)
        out["precision"] = {"value": p, "k": 3, **base}
        out["recall"] = {"value": r, "k": 3, **base}
    if "dc" in which:
        d, c = density_coverage(ref.feats, fake.feats, k=5)
        out["density"] = {"value": d, "k": 5, **base}
        out["coverage"] = {"value": c, "k": 5, **base}
    if "modes" in which:
        h = mode_histogram(fake.probs.argmax(1), fake.probs.shape[1])
        out["modes"] = {**h, "class_names": stamp["class_names"], **base}
        if out_dir is not None:
            from genzoo.metrics.modes import modes_png
            modes_png(h["counts"], stamp["class_names"], out_dir / "modes.png", title)
    return out


def code_metrics(algo, z, pred, stamp: dict) -> dict:
    """For conditional runs, how often the classifier agrees with the class each sample was drawn
    for (CGAN/ACGAN), or with its InfoGAN category after the best one-to-one matching."""
    from genzoo.metrics.conditional import category_accuracy, label_accuracy

    intended = algo.labels_of(z) if hasattr(algo, "labels_of") else None
    if intended is None:
        return {}
    base = {"extractor": stamp["extractor"], "n": len(pred), "genzoo_version": __version__}
    intended = intended.cpu().numpy()
    if getattr(algo, "labelled", False):
        return {"label_accuracy": {"value": label_accuracy(pred, intended), **base}}
    acc, mapping = category_accuracy(pred, intended, algo.info_cat, len(stamp["class_names"]))
    return {"category_accuracy": {"value": acc, "mapping": mapping, "matching": "hungarian", **base}}


def _resolve_n(n: int | None) -> int:
    n = 10_000 if n is None else n
    if n < 2:
        raise GenzooError("--n must be at least 2")
    return n


def likelihood_metrics(cfg, algo, test, k: int, seed: int = 0, progress: bool = False) -> dict:
    """AE/VAE runs: ELBO, importance-sampled NLL and reconstruction error on the whole test split ``test``."""
    from genzoo.metrics.likelihood import heldout_likelihood

    if k < 1:
        raise GenzooError("--k must be at least 1")
    b = test.batch(torch.arange(len(test)))
    r = heldout_likelihood(algo, b["x"], b.get("y") if algo.labelled else None, k=k, seed=seed, progress=progress)
    base = {"n": len(test), "reference": f"{cfg.data.dataset}:test", "unit": "nats per image",
            "binarised": bool(algo.binarize), "likelihood": algo.likelihood, "genzoo_version": __version__}
    out = {"rec_nll": {"value": r["rec_nll"], **base}, "rec_mse": {"value": r["rec_mse"], **base,
                                                                   "unit": "mean squared error per pixel on [0, 1]"}}
    if "elbo" in r:
        out = {"elbo": {"value": r["elbo"], **base}, f"nll[k={k}]": {"value": r["nll"], "k": k, **base}, **out}
    return out


def inception_weights(inception: bool | str | None, which: tuple[str, ...], n: int) -> Path | None:
    """Checked before any work: the Inception weights to use (``inception`` True: the cached standard file;
    a path: that file), or None when not asked for or, said in one line on stderr, not found."""
    if not inception:
        return None
    import sys

    from genzoo.metrics.inception import MISSING, find_weights
    from genzoo.nets.inception import FEATURE_DIM

    path = find_weights(None if inception is True else inception)
    if "fid" in which and n <= FEATURE_DIM:  # fail before minutes of 299 x 299 forward passes
        raise GenzooError(f"fid[inception-v3] needs more samples than its {FEATURE_DIM} feature dimensions; "
                          f"use --n {FEATURE_DIM + 1} or more (10000 is usual), or --metrics kid,is")
    if path is None:
        print(f"genzoo: {MISSING}", file=sys.stderr)
    return path


def add_inception(result: dict, images_u8: torch.Tensor, spec: str, root: str | None, n: int,
                  which: tuple[str, ...], weights: Path | None, progress: bool) -> None:
    """fid/kid/is[inception-v3] of ``images_u8`` against the test split, when ``weights`` were found."""
    if weights is None:
        return
    from genzoo.metrics.inception import inception_features

    fake, ref, stamp = inception_features(images_u8, spec, root, n, weights, progress)
    out = image_metrics(fake, ref, stamp, tuple(m for m in which if m in ("fid", "kid", "is")), None, "")
    for v in out.values():
        v["weights_sha256"] = stamp["weights_sha256"]
    result["metrics"].update(out)


def evaluate_run(run: Path, n: int | None = None, seed: int = 0, metrics: str | None = None,
                 k: int = 100, progress: bool = False, inception: bool | str | None = None) -> dict:
    cfg, algo, meta = open_run(run)
    run = Path(run)
    if cfg.family == "pix2pix":
        from genzoo.explore.translate import evaluate_pix2pix
        return evaluate_pix2pix(run, cfg, algo, meta, n)
    spec = cfg.data.dataset
    if spec.startswith("toy:"):
        return _evaluate_toy(run, cfg, algo, meta, n or 2500, seed)
    from genzoo.metrics.classifier import extractor_key, load_classifier
    from genzoo.metrics.features import extract, reference

    which = parse_metrics(metrics)
    n = _resolve_n(n)
    weights = inception_weights(inception, which, n)
    key = extractor_key(spec)
    clf = load_classifier(key)
    ref, stamp = reference(spec, key, n, cfg.data.root, classifier=clf)
    net = clf[0]
    z = algo.sample_z(n, torch.Generator().manual_seed(seed))
    fake_u8 = torch.cat([to_uint8(algo.generate(zc)).cpu() for zc in z.split(500)])  # quantised like saved images
    fake = extract(net, fake_u8)
    result = {"genzoo_version": __version__, "run": str(run), "recipe": cfg.recipe, "step": meta["step"],
              "dataset": spec, "seed": seed,
              "metrics": image_metrics(fake, ref, stamp, which, run, f"{cfg.recipe} step {meta['step']}: "
                                                                     f"classes of {n} samples")}
    result["metrics"].update(code_metrics(algo, z, fake.probs.argmax(1), stamp))
    add_inception(result, fake_u8, spec, cfg.data.root, n, which, weights, progress)
    if hasattr(algo, "log_weights"):  # AE / VAE: the likelihood side of the comparison, and its pictures
        from genzoo.training.build import dataset_for
        from genzoo.report.figures import autoencoder_figures

        test = dataset_for(cfg, "test")
        result["metrics"] = {**likelihood_metrics(cfg, algo, test, k, seed, progress), **result["metrics"]}
        autoencoder_figures(algo, test, run, f"{cfg.recipe} step {meta['step']}: test encodings")
    atomic_write_bytes(run / "metrics.json", json.dumps(result, indent=1).encode())
    return result


def evaluate_real(spec: str, root: str | None = None, n: int | None = None, metrics: str | None = None,
                  out: Path | None = None, inception: bool | str | None = None, progress: bool = False) -> dict:
    """The floor: a real train subset measured against the test split, exactly as a model would be."""
    from genzoo.metrics.classifier import extractor_key, load_classifier
    from genzoo.metrics.features import extract, reference, subset

    which = parse_metrics(metrics)
    n = _resolve_n(n)
    weights = inception_weights(inception, which, n)
    key = extractor_key(spec)
    clf = load_classifier(key)
    ref, stamp = reference(spec, key, n, root, classifier=clf)
    train = load_dataset(spec, "train", root)
    real_u8 = subset(train, n, seed=1)
    fake = extract(clf[0], real_u8)
    result = {"genzoo_version": __version__, "real": f"{spec}:train", "dataset": spec,
              "metrics": image_metrics(fake, ref, stamp, which, out, f"real {spec} train: classes of {fake.n}")}
    add_inception(result, real_u8, spec, root, n, which, weights, progress)
    if out is not None:
        atomic_write_bytes(Path(out) / "metrics.json", json.dumps(result, indent=1).encode())
    return result


def _evaluate_toy(run: Path, cfg, algo, meta, n: int, seed: int) -> dict:
    name = cfg.data.dataset.split(":", 1)[1]
    centers = mode_centers(name)
    if centers is None:
        raise GenzooError(f"{cfg.data.dataset} has no discrete modes; mode metrics need toy:ring8 or toy:grid25")
    x = algo.generate(algo.sample_z(n, torch.Generator().manual_seed(seed))).cpu()
    result = {"genzoo_version": __version__, "run": str(run), "step": meta["step"], "dataset": cfg.data.dataset,
              "recipe": cfg.recipe, "seed": seed, "metrics": toy_metrics(x, centers, mode_std(name))}
    atomic_write_bytes(run / "metrics.json", json.dumps(result, indent=1).encode())
    if isinstance(algo, GAN):
        toy_figure(algo, x, centers, run / "toy.png", title=f"{cfg.recipe} on {cfg.data.dataset}, step {meta['step']}")
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
    fig.colorbar(im, ax=ax, label="critic score" if critic else "D(x)")
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
    head = (f"{result.get('recipe', 'real')} on {result['dataset']}"
            + (f" at step {result['step']}" if "step" in result else f" ({result.get('real')})"))
    lines = [head]
    for k, v in result["metrics"].items():
        if isinstance(v, dict):
            if k == "modes":
                val = (f"KL(p||U) {v['kl_to_uniform']:.4f}  entropy {v['entropy']:.3f}/{v['max_entropy']:.3f}  "
                       f"classes>=1%: {v['classes_covered']}")
            else:
                val = f"{v['value']:.4g}" + (f" ± {v['std']:.2g}" if "std" in v else "")
            if "n_reference" in v:
                ref = f"vs {v['reference']} (n={v['n_reference']})"
            else:
                ref = f"on {v['reference']}" if "reference" in v else f"by {v['extractor']}"
            lines.append(f"  {k:<26} {val:<24} n={v['n']} {ref}")
        else:
            lines.append(f"  {k:<22} {v:.4f}" if isinstance(v, float) else f"  {k:<22} {v}")
    return "\n".join(lines)
