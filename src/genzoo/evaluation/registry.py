"""The metric registry: every sample metric draws on one pair of feature sets (fake vs reference).

A metric is a function ``(fake, ref, base) -> {name: entry}``; ``base`` is the stamp every entry carries
(extractor, sample count, reference split and count, genzoo version). Adding one is a function and
a ``@metric("name")`` line. (The shape of stylegan2-ada's ``metric_main``: a registry of metrics that
all draw features through one shared function.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from genzoo import __version__
from genzoo.errors import GenzooError
from genzoo.metrics import density_coverage, fid, inception_score, kid, mode_histogram, precision_recall
from genzoo.metrics.features import Features

MetricFn = Callable[[Features, Features, dict], dict]
METRICS: dict[str, MetricFn] = {}


def metric(name: str):
    def deco(fn: MetricFn) -> MetricFn:
        METRICS[name] = fn
        return fn
    return deco


@metric("fid")
def _fid(fake: Features, ref: Features, base: dict) -> dict:
    return {f"fid[{base['extractor']}]": {"value": fid(fake.feats, ref.feats), **base}}


@metric("kid")
def _kid(fake: Features, ref: Features, base: dict) -> dict:
    mean, std = kid(ref.feats, fake.feats, same_set=fake is ref)
    return {f"kid[{base['extractor']}]": {"value": mean, "std": std, "subsets": 100,
                                           "subset_size": min(1000, fake.n, ref.n), **base}}


@metric("is")
def _is(fake: Features, ref: Features, base: dict) -> dict:
    mean, std = inception_score(fake.probs)
    return {f"is[{base['extractor']}]": {"value": mean, "std": std, **base}}


@metric("pr")
def _pr(fake: Features, ref: Features, base: dict) -> dict:
    p, r = precision_recall(ref.feats, fake.feats, k=3)
    return {"precision": {"value": p, "k": 3, **base}, "recall": {"value": r, "k": 3, **base}}


@metric("dc")
def _dc(fake: Features, ref: Features, base: dict) -> dict:
    d, c = density_coverage(ref.feats, fake.feats, k=5)
    return {"density": {"value": d, "k": 5, **base}, "coverage": {"value": c, "k": 5, **base}}


@metric("modes")
def _modes(fake: Features, ref: Features, base: dict) -> dict:
    h = mode_histogram(fake.probs.argmax(1), fake.probs.shape[1])
    return {"modes": {**h, "class_names": base["class_names"], **base}}


def parse_metrics(text: str | tuple | list | None) -> tuple[str, ...]:
    """'fid,kid' (or a list) -> validated names; None -> all."""
    if not text:
        return tuple(METRICS)
    names = tuple(m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip())
    bad = [m for m in names if m not in METRICS]
    if bad:
        raise GenzooError(f"unknown metric(s) {', '.join(bad)}; valid: {', '.join(METRICS)}")
    return names


def sample_metrics(fake: Features, ref: Features, stamp: dict, which: tuple[str, ...],
                   out_dir: Path | None = None, title: str = "") -> dict:
    """The chosen metrics of fake vs reference features; every entry carries its stamp. Draws
    modes.png into ``out_dir`` when the class histogram is asked for."""
    base = {"extractor": stamp["extractor"], "n": fake.n, "reference": stamp["reference"],
            "n_reference": stamp["n_reference"], "genzoo_version": __version__}
    out: dict[str, dict] = {}
    for name in which:
        out.update(METRICS[name](fake, ref, {**base, "class_names": stamp.get("class_names")}))
    for entry in out.values():
        if entry is not out.get("modes"):
            entry.pop("class_names", None)
    if "modes" in out and out_dir is not None:
        from genzoo.metrics.modes import modes_png
        modes_png(out["modes"]["counts"], stamp["class_names"], Path(out_dir) / "modes.png", title)
    return out


def format_table(result: dict) -> str:
    """metrics.json as the aligned table the CLI prints."""
    head = (f"{result.get('recipe', 'real')} on {result['dataset']}"
            + (f" at step {result['step']}" if "step" in result else f" ({result.get('real', 'samples')})"))
    lines = [head]
    for k, v in result["metrics"].items():
        if isinstance(v, list) and all(isinstance(e, float) for e in v):
            lines.append(f"  {k:<22} " + " ".join(f"{e:.4f}" for e in v))
            continue
        if not isinstance(v, dict):
            lines.append(f"  {k:<22} {v:.4f}" if isinstance(v, float) else f"  {k:<22} {v}")
            continue
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
    return "\n".join(lines)
