"""Latent sets and latent vector arithmetic (Radford et al. 2016, Sec. 6.3).

A latent set is one vector: the mean of the latents of several samples, picked by seed, or all
samples of a class (conditional models: the class code with averaged noise; unconditional image
models: the samples the evaluation classifier assigns to that class). Sets are saved as JSON in
RUN_DIR/latents/NAME.json. ``A - B + C`` combines saved sets; the DCGAN paper averaged three
samples per concept because single vectors were unstable, and decoded the result with a little
uniform noise added (±0.25) to show that the result is a region, not a point.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from genzoo.io import atomic_write_bytes
from genzoo.errors import GenzooError, at_least_1
from genzoo.explore.latent import seeded_latents, with_code

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def latents_dir(run: Path) -> Path:
    return Path(run) / "latents"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise GenzooError(f"latent set name '{name}' must start with a letter and hold only letters, digits, _ "
                          "and . (no '-', which is subtraction)")
    return name


def save_set(run: Path, name: str, vector: torch.Tensor, how: dict) -> Path:
    path = latents_dir(run) / f"{check_name(name)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps({"name": name, **how, "latent": vector.tolist()}).encode())
    return path


def load_set(run: Path, name: str, dim: int) -> torch.Tensor:
    path = latents_dir(run) / f"{check_name(name)}.json"
    if not path.is_file():
        have = sorted(p.stem for p in latents_dir(run).glob("*.json"))
        raise GenzooError(f"no latent set '{name}' in {run}; saved sets: {', '.join(have) or 'none'} "
                          f"(create one with `genzoo latents save {run} {name} --seeds ...`)")
    try:
        v = torch.tensor(json.loads(path.read_text())["latent"], dtype=torch.float32)
    except (ValueError, KeyError, TypeError):
        raise GenzooError(f"{path}: not a genzoo latent set") from None
    if v.shape != (dim,):
        raise GenzooError(f"{path}: a latent of size {tuple(v.shape)}, but this run's latents have size {dim}")
    return v


def set_from_seeds(algo, seeds: list[int]) -> torch.Tensor:
    if not seeds:
        raise GenzooError("--seeds needs at least one seed")
    return seeded_latents(seeds, algo.sample_z).mean(0)


@torch.no_grad()
def class_latents(algo, classifier, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n prior draws and the class the evaluation classifier gives each decoded sample. ((n, D), (n,))"""
    from genzoo.metrics.features import extract
    from genzoo.run import generate_uint8

    z = algo.sample_z(n, torch.Generator().manual_seed(seed)).cpu()
    return z, torch.from_numpy(extract(classifier, generate_uint8(algo, z)).probs.argmax(1))


def set_from_class(algo, label: int, n: int, classifier=None, seed: int = 0) -> tuple[torch.Tensor, int]:
    """The mean latent of one class, and how many samples it averages."""
    if algo.code_classes:  # conditional: the class is part of the latent
        z = with_code(algo, algo.sample_z(n, torch.Generator().manual_seed(seed)), label).cpu()
        return z.mean(0), n
    if classifier is None:
        raise GenzooError("--label on an unconditional run needs an evaluation classifier for its dataset")
    z, pred = class_latents(algo, classifier, n, seed)
    pick = z[pred == label]
    if len(pick) == 0:
        raise GenzooError(f"none of {n} samples was classified as class {label}; raise --n")
    return pick.mean(0), len(pick)


def parse_expression(text: str) -> list[tuple[int, str]]:
    """'A - B + C' -> [(+1, 'A'), (-1, 'B'), (+1, 'C')]."""
    tokens = re.findall(r"[+-]|[^\s+-]+", text)
    bad = GenzooError(f"cannot parse '{text}': write saved set names joined by + and -, e.g. \"A - B + C\"")
    if not tokens or len(tokens) % 2 == 0 or tokens[0] in "+-":
        raise bad
    out = [(1, check_name(tokens[0]))]
    for op, name in zip(tokens[1::2], tokens[2::2]):
        if op not in ("+", "-") or name in ("+", "-"):
            raise bad
        out.append((1 if op == "+" else -1, check_name(name)))
    return out


def combine(terms: list[tuple[int, torch.Tensor]]) -> torch.Tensor:
    return sum(s * v for s, v in terms)


def variations(result: torch.Tensor, k: int, z_dim: int, spread: float = 0.25, seed: int = 0) -> torch.Tensor:
    """The result and k - 1 copies with uniform noise in [-spread, spread] on z (not on class codes). (k, D)"""
    g = torch.Generator().manual_seed(seed)
    noise = (torch.rand(k, result.shape[0], generator=g) * 2 - 1) * spread
    noise[0] = 0
    noise[:, z_dim:] = 0
    return result[None] + noise


def renorm(latents: torch.Tensor, z_dim: int, scale: float = 1.0) -> torch.Tensor:
    """Scale the z part of each latent to norm scale * sqrt(z_dim), where N(0, scale^2 I) samples concentrate:
    a mean of many latents has a much smaller norm (sqrt(z_dim / n)) and decodes to the generator's 'average'
    image."""
    out = latents.clone()
    z = out[:, :z_dim]
    out[:, :z_dim] = z / z.norm(dim=1, keepdim=True).clamp(min=1e-8) * z_dim ** 0.5 * scale
    return out


def list_sets(run_dir: Path) -> list[str]:
    """One line per saved latent set of a run: its name and what it averages."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GenzooError(f"{run_dir}: no such run directory")
    lines = []
    for p in sorted(latents_dir(run_dir).glob("*.json")):
        try:
            d = json.loads(p.read_text())
            how = f"seeds {d['seeds']}" if "seeds" in d else f"class {d['label']} ({d['count']} samples)"
        except (ValueError, KeyError, TypeError):
            how = "damaged (not a genzoo latent set; save it again)"
        lines.append(f"  {p.stem:<20} {how}")
    return lines


def save_latent_set(run, name: str, seeds: list[int] | None = None, label: int | None = None,
                    n: int = 2000) -> tuple[Path, str]:
    """Save the mean latent of ``seeds``, or of class ``label``, as RUN_DIR/latents/NAME.json.
    Returns (path, what was averaged)."""
    check_name(name)
    run.require("generates", "a latent set")
    if seeds is not None and not seeds:
        raise GenzooError("--seeds needs at least one seed")
    if seeds is not None:
        return save_set(run.path, name, set_from_seeds(run.algo, seeds), {"seeds": seeds}), \
            f"the mean latent of {len(seeds)} seed(s)"
    at_least_1(n=n)
    clf = None if run.code_classes else (run.classifier[0] if run.classifier else None)
    vec, count = set_from_class(run.algo, label, n, clf)
    return save_set(run.path, name, vec, {"label": label, "count": count}), \
        f"the mean latent of {count} class-{label} sample(s)"


def decode_expression(run, expression: str, k: int = 8, renormalise: bool = False):
    """Decode each term of "A - B + C" and the sum with k - 1 variations around it.
    Returns (uint8 images: terms then results, term names, classifier's classes or None)."""
    from genzoo.metrics.features import extract
    from genzoo.run import generate_uint8

    at_least_1(variations=k)
    terms = parse_expression(expression)
    run.require("generates", "latent arithmetic")
    if run.kind == "toy":
        raise GenzooError("latent arithmetic draws images; this run generates 2-D points")
    algo = run.algo
    dim = algo.sample_z(1, torch.Generator().manual_seed(0)).shape[1]
    vecs = [(sign, load_set(run.path, name, dim)) for sign, name in terms]
    latents = torch.cat([torch.stack([v for _, v in vecs]), variations(combine(vecs), k, algo.z_dim)])
    dist, scale = (algo.z_dist, algo.z_scale) if run.family == "gan" else ("normal", 1.0)  # VAE: N(0, I) prior
    if renormalise and dist == "normal":
        latents = renorm(latents, algo.z_dim, scale)
    x = generate_uint8(algo, latents)
    pred = None
    if run.classifier is not None and x.shape[1] == run.classifier[0].in_shape[0]:
        pred = extract(run.classifier[0], x).probs.argmax(1).tolist()
    return x, [name for _, name in terms], pred


def arithmetic(run, expression: str, k: int = 8, renormalise: bool = False, out: Path | None = None) -> str:
    """Decode "A - B + C" and its variations into one row of a PNG; returns what it wrote (and the classes
    the evaluation classifier gives, where there is one)."""
    from genzoo import images

    x, names, pred = decode_expression(run, expression, k, renormalise)
    out = Path(out or run.path / "arithmetic.png")
    images.save_grid(out, x, nrow=len(x))
    msg = f"wrote {out}: {', '.join(names)} decoded, then {expression} and {k - 1} variation(s)"
    if pred is not None:
        msg += (f"\nclasses by the {run.cfg.data.dataset} classifier: terms {pred[:len(names)]}, "
                f"results {pred[len(names):]}")
    return msg
