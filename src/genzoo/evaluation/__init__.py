"""``genzoo.evaluate``: one entry point for a run, an in-memory model or a tensor of samples.

Image samples are measured on the features of the dataset's evaluation classifier (the metric
names carry the extractor, e.g. ``fid[lenet-mnist]``, so they are never confused with Inception
FID) against the real test split; with Inception weights supplied, ``fid[inception-v3]`` and friends
are added. Which measurements a run gets depends on its kind, looked up in ``EVALUATORS``:
GAN, AE/VAE (plus held-out likelihood), pix2pix (paired metrics) and 2-D toy runs (mode coverage).
Every number is stamped with its extractor, sample count, reference split and the genzoo version.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from genzoo import __version__
from genzoo.algos.base import Algo
from genzoo.errors import GenzooError
from genzoo.evaluation.registry import METRICS, format_table, parse_metrics, sample_metrics
from genzoo.io import atomic_write_bytes
from genzoo.run import Run, generate_uint8
from genzoo.training import distributed
from genzoo.training.distributed import Dist

__all__ = ["EVALUATORS", "METRICS", "Options", "evaluate", "evaluate_real", "format_table", "measure_samples"]


@dataclass
class Options:
    n: int | None = None                 # samples (default 10,000; toy runs 2,500; pix2pix: all test pairs)
    seed: int = 0
    metrics: tuple[str, ...] = ()        # sample metrics (empty: all of METRICS)
    k: int = 100                         # AE/VAE: importance samples per test image for the NLL bound
    inception: bool | str | None = None  # True: the cached standard weights; a path: that file
    progress: bool = False
    dist: Dist = field(default_factory=Dist)  # under torchrun: generation and features sharded over the ranks


def evaluate(target, *, n: int | None = None, seed: int = 0, metrics: str | list | None = None,
             reference: str | None = None, data_root: str | None = None, k: int = 100,
             inception: bool | str | None = None, out: str | Path | None = None, device: str | None = None,
             progress: bool = False) -> dict:
    """Measure ``target`` and return the stamped metrics dict.

    - a ``Run`` or a run directory: generates n samples from its latest checkpoint, measures them as its family
      asks, and writes RUN_DIR/metrics.json (as `genzoo evaluate RUN_DIR` does);
    - an in-memory model (a GAN or VAE algo) with ``reference=DATASET``: generates n samples and measures them;
    - a uint8 tensor of images (N, C, H, W) with ``reference=DATASET``: measures them as they are.
    ``out``: a folder for metrics.json and modes.png (runs write into their own directory).

    Under torchrun (WORLD_SIZE > 1) every rank calls this: the ranks draw the same latents, each generates and
    extracts the classifier (and Inception) features of its contiguous share, the shares are all-gathered, and
    rank 0 computes the metrics and writes; the AE/VAE test likelihood is split over the ranks by test batches.
    Toy, Stacked-MNIST and pix2pix runs are evaluated by rank 0 alone. Every rank returns the same dict, equal
    to one process's to float tolerance.
    """
    opts = Options(n=n, seed=seed, metrics=parse_metrics(metrics), k=k, inception=inception, progress=progress)
    if distributed.world_size_from_env() > 1:
        run = target if torch.is_tensor(target) or isinstance(target, (Algo, Run)) else Run.open(target, device)
        name = device or (run.device or run.cfg.train.device if isinstance(run, Run) else None)
        with distributed.joined(name) as d:
            if isinstance(run, Run) and d.device is not None and d.device.type == "cuda" \
                    and "algo" not in run.__dict__:
                run.device = str(d.device)  # rank r generates on cuda:LOCAL_RANK
            opts.dist = d
            return _evaluate(run, opts, reference, data_root, out, device)
    return _evaluate(target, opts, reference, data_root, out, device)


def _evaluate(target, opts: Options, reference: str | None, data_root: str | None, out, device) -> dict:
    if torch.is_tensor(target) or isinstance(target, Algo):
        if not reference:
            raise GenzooError("evaluating samples or a model needs reference=DATASET (e.g. 'mnist'), the data "
                              "to compare them with")
        out = Path(out) if out else None
        if isinstance(target, Algo) and not hasattr(target, "sample_z"):  # the one check on a bare model
            raise GenzooError(f"a {type(target).__name__} model has no prior to sample; evaluate() takes GAN and "
                              "VAE models, or a run directory (pix2pix runs: genzoo.evaluate(run))")
        if isinstance(target, Algo):
            return _write(_evaluate_algo(target, reference, data_root, opts, out), out, opts.dist)
        return _write(measure_samples(_check_images(target), reference, data_root, opts, out)[0], out, opts.dist)
    run = target if isinstance(target, Run) else Run.open(target, device)
    if reference is not None and reference != run.cfg.data.dataset:
        raise GenzooError(f"{run.path} was trained on {run.cfg.data.dataset}; its reference is that dataset "
                          "(drop reference=, or evaluate run.sample(n) against another dataset)")
    if run.kind not in EVALUATORS:
        run.require("generates", "genzoo evaluate")  # says what to use instead (AdvGAN: genzoo attack)
    if run.kind in SHARDED:
        result = EVALUATORS[run.kind](run, opts)
    else:  # generated and measured by rank 0 alone; the other ranks wait for its result
        result = opts.dist.main_result(EVALUATORS[run.kind], run, Options(**{**vars(opts), "dist": Dist()}))
    if out is not None and Path(out) != run.path:
        _write(result, Path(out), opts.dist)  # a copy where the caller asked; the run keeps its own
    return _write(result, run.path, opts.dist)


def _write(result: dict, folder: Path | None, d: Dist = Dist()) -> dict:
    if folder is not None and d.is_main:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / "metrics.json", json.dumps(result, indent=1).encode())
    return result


def _check_images(x: torch.Tensor) -> torch.Tensor:
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise GenzooError(f"samples must be a uint8 tensor (N, C, H, W), got {x.dtype} of shape {tuple(x.shape)}; "
                          "convert with genzoo.data.to_uint8 (for images in [-1, 1])")
    return x.cpu()


def resolve_n(n: int | None, default: int = 10_000) -> int:
    n = default if n is None else n
    if n < 2:
        raise GenzooError(f"--n must be at least 2, got {n}")
    return n


# -- the shared core: uint8 images -> classifier features -> the registry's metrics ------------------------
def measure_samples(images_u8: torch.Tensor, spec: str, root: str | None, opts: Options,
                    out_dir: Path | None = None, title: str = "", extra: dict | None = None):
    """Every sample metric of ``images_u8`` against the test split of dataset ``spec``. Returns (the result dict,
    the samples' classifier features and the reference stamp, for callers that add code metrics)."""
    from genzoo.evaluation.inception import add_inception, inception_weights
    from genzoo.metrics.classifier import extractor_key, load_classifier
    from genzoo.metrics.features import extract, reference

    n, d = len(images_u8), opts.dist
    weights = inception_weights(opts.inception, opts.metrics, n, say=d.is_main)
    key = extractor_key(spec)
    clf = load_classifier(key)
    fake = _extract(lambda x: extract(clf[0], x), images_u8, d)  # under torchrun: each rank its share, gathered
    fake_inception = None
    if d.broadcast(weights is not None):  # rank 0 has weights: every rank must load them, or all stop with one line
        from genzoo.metrics.inception import extract_inception
        inception, digest = d.agree(_load_inception, weights, d.rank)
        # the 299 x 299 Inception passes are the slow part: sharded the same way
        fake_inception = _extract(lambda x: extract_inception(inception, x, progress=opts.progress and d.is_main,
                                                              desc="inception: samples"), images_u8, d)

    def finish():  # rank 0 alone under torchrun: the reference caches, the metrics, modes.png
        ref, stamp = reference(spec, key, n, root, classifier=clf)
        result = {"genzoo_version": __version__, **(extra or {"samples": n}), "dataset": spec,
                  "metrics": sample_metrics(fake, ref, stamp, opts.metrics, out_dir,
                                            title or f"classes of {n} samples")}
        if fake_inception is not None:
            add_inception(result, fake_inception, inception, digest, spec, root, n, opts.metrics, opts.progress)
        return result, stamp

    result, stamp = d.main_result(finish)
    return result, fake, stamp


def _load_inception(weights, rank: int):
    from genzoo.metrics.inception import load_inception

    if weights is None:
        raise GenzooError(f"rank {rank} finds no Inception weights where rank 0 does; pass --inception-weights PATH "
                          "on a file system every node sees")
    return load_inception(weights)


def _extract(features, images_u8: torch.Tensor, d: Dist):
    """``features(images)`` (a Features of per-image rows); under torchrun each rank takes its contiguous share
    of the images and the rows are all-gathered in rank order, so every rank holds what one process computes."""
    from genzoo.metrics.features import Features

    if not d.active or len(images_u8) < d.world:
        return features(images_u8)
    mine = features(images_u8[d.shard(len(images_u8))])
    return Features(d.gather_rows(torch.from_numpy(mine.feats)).numpy(),
                    d.gather_rows(torch.from_numpy(mine.probs)).numpy())


def _evaluate_algo(algo: Algo, spec: str, root: str | None, opts: Options, out: Path | None) -> dict:
    n = resolve_n(opts.n)
    z = algo.sample_z(n, torch.Generator().manual_seed(opts.seed))
    result, fake, stamp = measure_samples(generate_uint8(algo, z, opts.dist), spec, root, opts, out,
                                          extra={"model": type(algo).__name__, "seed": opts.seed})
    result["metrics"].update(code_metrics(algo, z, fake.probs.argmax(1), stamp))
    return result


def code_metrics(algo: Algo, z: torch.Tensor, pred, stamp: dict) -> dict:
    """For conditional runs, how often the classifier agrees with the class each sample was drawn
    for (CGAN/ACGAN/CVAE), or with its InfoGAN category after the best one-to-one matching."""
    from genzoo.metrics.conditional import category_accuracy, label_accuracy

    intended = algo.labels_of(z)
    if intended is None:
        return {}
    base = {"extractor": stamp["extractor"], "n": len(pred), "genzoo_version": __version__}
    intended = intended.cpu().numpy()
    if algo.labelled:
        return {"label_accuracy": {"value": label_accuracy(pred, intended), **base}}
    acc, mapping = category_accuracy(pred, intended, algo.info_cat, len(stamp["class_names"]))
    return {"category_accuracy": {"value": acc, "mapping": mapping, "matching": "hungarian", **base}}


# -- per kind of run ------------------------------------------------------------------------------------
def _image_run(run: Run, opts: Options) -> dict:
    """GAN, AE and VAE runs on images: sample metrics, code accuracy, and for AE/VAE the likelihood side."""
    n = resolve_n(opts.n)
    if run.classifier is None:  # say so before generating: load_classifier names the command that trains one
        from genzoo.metrics.classifier import extractor_key, load_classifier
        load_classifier(extractor_key(run.cfg.data.dataset))
    z = run.latents(n, opts.seed)
    head = {"run": str(run.path), "recipe": run.cfg.recipe, "step": run.step}
    result, fake, stamp = measure_samples(generate_uint8(run.algo, z, opts.dist), run.cfg.data.dataset,
                                          run.cfg.data.root,
                                          opts, run.path, f"{run.cfg.recipe} step {run.step}: classes of {n} samples",
                                          extra={**head, "seed": opts.seed})
    result["metrics"].update(code_metrics(run.algo, z, fake.probs.argmax(1), stamp))
    if run.traits.likelihood:
        from genzoo.evaluation.figures import autoencoder_figures
        from genzoo.evaluation.likelihood import likelihood_metrics

        test = run.dataset("test")  # the likelihood terms sharded over the ranks under torchrun, the figures rank 0's
        result["metrics"] = {**likelihood_metrics(run.cfg, run.algo, test, opts.k, opts.seed, opts.progress,
                                                  opts.dist), **result["metrics"]}
        opts.dist.main_result(autoencoder_figures, run.algo, test, run.path,
                          f"{run.cfg.recipe} step {run.step}: test encodings")
    return result


def _toy_run(run: Run, opts: Options) -> dict:
    from genzoo.evaluation.toy import evaluate_toy
    return evaluate_toy(run, resolve_n(opts.n, 2500), opts.seed)


def _paired_run(run: Run, opts: Options) -> dict:
    from genzoo.evaluation.paired import evaluate_pix2pix
    return evaluate_pix2pix(run, opts.n)


def _stacked_run(run: Run, opts: Options) -> dict:
    from genzoo.evaluation.stacked import evaluate_stacked
    return evaluate_stacked(run, opts.n, opts.seed)


EVALUATORS: dict[str, Callable[[Run, Options], dict]] = {
    "gan": _image_run, "vae": _image_run, "ae": _image_run, "pix2pix": _paired_run, "toy": _toy_run,
    "stacked": _stacked_run}
SHARDED = {"gan", "vae", "ae"}  # kinds whose generation and features are split over the ranks under torchrun


def evaluate_real(spec: str, root: str | None = None, n: int | None = None, metrics: str | None = None,
                  out: Path | None = None, inception: bool | str | None = None, progress: bool = False) -> dict:
    """The floor: a real train subset measured against the test split, exactly as a model would be."""
    from genzoo.data import load_dataset
    from genzoo.metrics.features import subset

    opts = Options(n=resolve_n(n), metrics=parse_metrics(metrics), inception=inception, progress=progress)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)  # modes.png is drawn there before metrics.json
    real_u8 = subset(load_dataset(spec, "train", root), opts.n, seed=1)
    result = measure_samples(real_u8, spec, root, opts, out, f"real {spec} train: classes of {len(real_u8)}",
                             extra={"real": f"{spec}:train"})[0]
    from genzoo.evaluation import floors
    floors.save(spec, result)  # where `genzoo report` finds it, beside each model's metrics
    return _write(result, Path(out) if out else None)
