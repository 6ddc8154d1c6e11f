"""``genzoo experiment modes``: mode collapse on 2-D mixtures under a paper's protocol.

``--protocol pacgan`` is Lin et al. 2018 (PacGAN, arXiv:1712.04086, Sec. 5 and the authors' code,
fjxmlzn/PacGAN ``synthetic_data_experiments``): the ``pacgan`` recipe with ``model.pack`` set per row, a fixed
training set of 100,000 points, 1,000 steps of 100 packs per epoch, 400 epochs; 2,500 samples evaluated per
run (high quality within 3 sigma of the nearest mode; a mode captured when it has a high-quality sample;
reverse KL over the modes). The table gives mean ± std over the runs next to PacGAN's Table 1.

``overrides`` (``--set key=value``) runs a variation of the protocol, e.g. ``optim.ema=0.999``, for the search of
genzoo's best configuration; the keys that define the protocol (pack, batch, data, seed, steps) cannot be set.
"""
from __future__ import annotations

import json
import math
import re
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from genzoo.config import Config, _resolve_key
from genzoo.config_files import load_recipe
from genzoo.errors import GenzooError, at_least_1
from genzoo.training.checkpoint import RESOLVED_BY_RUN

# The protocol's numbers, pinned by tests/test_pacgan.py: change them only with the paper in hand.
PROTOCOLS = {
    "pacgan": {"recipe": "pacgan", "packs_per_batch": 100, "steps_per_epoch": 1000, "epochs": 400,
               "train_samples": 100_000, "eval_samples": 2500},
}
MIXTURES = ("ring8", "grid25")

# PacGAN Table 1 (Lin et al. 2018): modes, high-quality fraction, reverse KL; mean of 10 runs.
PUBLISHED = {
    "gan": {"ring8": (6.3, 0.982, 0.45), "grid25": (17.3, 0.948, 0.70)},
    "pacgan2": {"ring8": (7.9, 0.956, 0.07), "grid25": (23.8, 0.913, 0.13)},
    "pacgan3": {"ring8": (7.8, 0.977, 0.10), "grid25": (24.6, 0.942, 0.06)},
    "pacgan4": {"ring8": (7.8, 0.959, 0.07), "grid25": (24.8, 0.936, 0.04)},
}
KEYS = ("modes_captured", "high_quality_fraction", "reverse_kl")
PINNED = ("model.pack", "train.batch_size", "data.dataset", "data.toy_samples", "train.seed", "train.steps")


def pack_of(name: str) -> int:
    """'gan' -> 1, 'pacgan3' -> 3: the table's row names."""
    if name == "gan":
        return 1
    m = re.fullmatch(r"pacgan([1-9][0-9]?)", name)
    if not m:
        raise GenzooError(f"unknown row '{name}' for --protocol pacgan; use gan or pacganM (M = pack, e.g. pacgan2)")
    return int(m.group(1))


def protocol_config(name: str, mixture: str, seed: int, protocol: str = "pacgan", epochs: float | None = None,
                    overrides: list[str] = ()) -> Config:
    """The config of one run of row ``name`` on ``mixture`` under ``protocol`` (plus ``overrides``)."""
    if protocol not in PROTOCOLS:
        raise GenzooError(f"unknown protocol '{protocol}'; valid: " + ", ".join(PROTOCOLS))
    if mixture not in MIXTURES:
        raise GenzooError(f"--mixture must be one of {', '.join(MIXTURES)}, got '{mixture}'")
    p = PROTOCOLS[protocol]
    epochs = p["epochs"] if epochs is None else epochs
    if not epochs > 0:
        raise GenzooError(f"--epochs must be > 0, got {epochs}")
    pack = pack_of(name)
    cfg = load_recipe(p["recipe"], f"toy:{mixture}")
    cfg.apply_overrides([f"model.pack={pack}", f"train.batch_size={p['packs_per_batch'] * pack}",
                         f"data.toy_samples={p['train_samples']}", f"train.seed={seed}",
                         f"train.steps={max(1, round(epochs * p['steps_per_epoch']))}"])
    refuse_pinned(overrides, PINNED, "the rows set the pack, --epochs the steps, --seed the seeds (settable: the "
                  "other config keys, e.g. optim.ema=0.999)")
    cfg.apply_overrides(list(overrides))
    cfg.recipe = name
    return cfg


def refuse_pinned(overrides: list[str], pinned: tuple[str, ...], hint: str) -> None:
    """One line if a ``--set`` item names a key that defines a protocol (bare names such as seed=1 included)."""
    for item in overrides:
        section, name = _resolve_key(item.split("=", 1)[0].strip(), "--set")
        key = f"{section}.{name}" if section else name
        if key in pinned:
            raise GenzooError(f"--set {key} would change the protocol itself; {hint}")


def check_reuse(cfg: Config, run_dir: Path) -> None:
    """A finished or partial run in ``run_dir`` is continued or re-evaluated only if it was trained with the same
    settings (all but the step budget, device and data folder): otherwise one line, before any work. A key its config.yaml
    lacks (written before the key existed) counts at its default, the value such a run trained with; an image size or
    channel count this experiment leaves for the run to resolve (None) is taken as matching."""
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        return
    import yaml
    old, new, default = yaml.safe_load(saved.read_text()) or {}, cfg.to_dict(), Config().to_dict()
    for section, fields in new.items():
        if not isinstance(fields, dict):
            continue
        for k, v in fields.items():
            key = f"{section}.{k}"
            if key in ("train.steps", "train.device", "data.root") or (key in RESOLVED_BY_RUN and v is None):
                continue
            was = (old.get(section) or {}).get(k, default.get(section, {}).get(k, v))
            if was != v:
                raise GenzooError(f"{run_dir} was trained with {section}.{k}={was}, this experiment asks for {v}; "
                                  f"use another --out for other settings")


def _one(job: tuple) -> dict:
    """Train (or reuse) one run and evaluate it; runs in a worker process."""
    import torch

    from genzoo.evaluation import evaluate
    from genzoo.run import Run
    from genzoo.training import checkpoint
    from genzoo.training.checkpoint import ckpt_dir
    from genzoo.training.loop import train

    name, mixture, seed, protocol, epochs, run_dir, threads, n_eval, device, overrides = job
    torch.set_num_threads(threads)
    cfg = protocol_config(name, mixture, seed, protocol, epochs, overrides)
    cfg.set("train.device", device)
    run_dir = Path(run_dir)
    t0 = time.process_time()
    latest = checkpoint.latest(ckpt_dir(run_dir))
    if latest is None or checkpoint.step_of(latest) < cfg.train.steps:
        train(cfg, run_dir, resume=latest is not None, progress=False)  # a longer budget continues the run
    cpu = _add_cpu_seconds(run_dir, time.process_time() - t0)  # the run's total over all its continuations
    m = evaluate(Run.open(run_dir), n=n_eval, seed=seed)["metrics"]
    return {"row": name, "mixture": mixture, "seed": seed, "steps": cfg.train.steps, "cpu_s": cpu,
            **{k: m[k] for k in KEYS}}


def _add_cpu_seconds(run_dir: Path, seconds: float) -> float:
    """Adds ``seconds`` to the CPU time kept in the run's cpu_seconds.json; returns the total."""
    from genzoo.io import atomic_write_bytes
    path = run_dir / "cpu_seconds.json"
    total = (json.loads(path.read_text())["cpu_s"] if path.is_file() else 0.0) + seconds
    atomic_write_bytes(path, json.dumps({"cpu_s": total}).encode())
    return total


def modes_experiment(mixture: str, rows: list[str], runs: int, out: Path, protocol: str = "pacgan",
                     epochs: float | None = None, jobs: int = 1, seed: int = 0, threads: int = 1,
                     device: str = "auto", overrides: list[str] = ()) -> dict:
    """``runs`` seeds of every row on ``mixture``, ``jobs`` processes at a time; finished runs are reused."""
    at_least_1(runs=runs, jobs=jobs, threads=threads)
    overrides = list(overrides)
    for r in rows:
        for k in range(runs):  # check the arguments, and that every run to reuse has these settings, before any work
            check_reuse(protocol_config(r, mixture, seed + k, protocol, epochs, overrides),
                        Path(out) / f"{mixture}-{r}-seed{seed + k}")
    n_eval = PROTOCOLS[protocol]["eval_samples"]
    from genzoo.algos.base import resolve_device
    resolve_device(device)  # a device that is not there is one line before any work
    work = [(r, mixture, seed + k, protocol, epochs, str(Path(out) / f"{mixture}-{r}-seed{seed + k}"), threads, n_eval,
             device, overrides) for r in rows for k in range(runs)]
    if jobs == 1:  # in this process, whose thread count is the caller's again afterwards
        import torch
        before = torch.get_num_threads()
        try:
            results = [_one(w) for w in work]
        finally:
            torch.set_num_threads(before)
    else:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(_one, work))
    table = {}
    for r in rows:
        got = [x for x in results if x["row"] == r]
        table[r] = {k: mean_std([x[k] for x in got]) for k in (*KEYS, "cpu_s")}
    result = {"protocol": protocol, "mixture": mixture, "runs": runs, "epochs": epochs or PROTOCOLS[protocol]["epochs"],
              "steps": work and results[0]["steps"], "overrides": overrides, "table": table, "runs_detail": results}
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / f"modes-{mixture}.json").write_text(json.dumps(result, indent=1))
    return result


def mean_std(v: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value), as the tables over runs report them."""
    mean = sum(v) / len(v)
    return mean, math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0


def report(result: dict) -> str:
    """A markdown table: ours (mean ± std) next to PacGAN Table 1."""
    mix = result["mixture"]
    varied = result.get("overrides") or []
    lines = [f"{mix}, protocol {result['protocol']}" + (f" with {' '.join(varied)}" if varied else "") +
             f": {result['runs']} run(s) per row, {result['steps']} steps ({result['epochs']} epochs), "
             f"2,500 samples each",
             "", "| row | modes | high quality | reverse KL | PacGAN T1 modes | HQ | KL | CPU s/run |",
             "|---|---|---|---|---|---|---|---|"]
    for r, t in result["table"].items():
        (m, ms), (h, hs), (k, ks), (c, _) = (t[key] for key in (*KEYS, "cpu_s"))
        pub = PUBLISHED.get(r, {}).get(mix)
        p = f"{pub[0]} | {pub[1] * 100:.1f} % | {pub[2]}" if pub else "– | – | –"
        lines.append(f"| {r} | {m:.1f} ± {ms:.1f} | {h * 100:.1f} ± {hs * 100:.1f} % | {k:.2f} ± {ks:.2f} | {p} "
                     f"| {c:.0f} |")
    return "\n".join(lines)
