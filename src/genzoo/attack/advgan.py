"""A trained AdvGAN run as an attack: one forward pass per image."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from genzoo.errors import GenzooError


def load_generator(run_dir: str | Path | None, meta: dict | None = None) -> Callable:
    """attack(x01, eps) -> x_adv01 from an advgan run; its perturbation is clipped to the requested ε."""
    from genzoo.metrics.classifier import extractor_key
    from genzoo.run import Run

    if not run_dir:
        raise GenzooError("an AdvGAN attack needs --generator RUN_DIR (a run of the advgan recipe)")
    if not Path(run_dir).is_dir():
        raise GenzooError(f"{run_dir}: no such run directory; train one with `genzoo train advgan`")
    run = Run.open(run_dir)
    if run.family != "advgan":
        raise GenzooError(f"{run_dir} is a {run.family} run, not an advgan run")
    if meta is not None and extractor_key(run.cfg.data.dataset) != meta.get("key", extractor_key(meta["dataset"])):
        raise GenzooError(f"{run_dir} was trained against {run.cfg.data.dataset}, not {meta['dataset']}")
    algo = run.algo
    algo.G.eval()

    @torch.no_grad()
    def attack(x01: torch.Tensor, eps: float) -> torch.Tensor:
        d = algo.perturbation(algo.to_input(x01 * 2 - 1)).to(x01.device) / 2  # in [0, 1] pixel units
        return (x01 + d.clamp(-eps, eps)).clamp(0, 1)
    return attack
