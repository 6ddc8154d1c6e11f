"""Does sampling from the averaged G (`optim.ema`) help on a 2-D mixture, and by how much, at each checkpoint?

Loads the checkpoints of one toy run trained with `optim.ema`, draws the same latents for the averaged G and for
the live G (eval mode, its own batch-norm statistics) and prints modes captured and the high-quality fraction
(within 3 sigma of the nearest mode) of each, over a few seeds of 2,500 samples, the PacGAN protocol's evaluation.

    python benchmarks/ema_vs_live.py runs/search-ema/grid25-pacgan2-seed0 --steps 360000,380000,400000
"""
from pathlib import Path

import torch

from genzoo.cli import Parser
from genzoo.cli.common import int_list
from genzoo.data.toy import mode_centers, mode_std
from genzoo.errors import GenzooError, exit_on_user_error
from genzoo.metrics import toy_metrics
from genzoo.run import load_algo
from genzoo.studies.modes import mean_std
from genzoo.training.checkpoint import ckpt_dir, list_checkpoints, step_of

p = Parser(description="High-quality fraction and modes of the averaged G against the live G, at a run's "
           "checkpoints, on the same latents (a toy run trained with optim.ema).")
p.add_argument("run", type=Path, help="a toy run directory trained with optim.ema")
p.add_argument("--steps", default="", help="comma list of checkpoint steps (default: every checkpoint)")
p.add_argument("--seeds", default="0,1,2", help="comma list of latent seeds, 2,500 samples each (default 0,1,2)")
p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
a = p.parse_args()


def main() -> None:
    torch.set_num_threads(a.threads)
    found = {step_of(c): c for c in list_checkpoints(ckpt_dir(a.run))} if a.run.is_dir() else {}
    steps = int_list(a.steps, "--steps") if a.steps else sorted(found)
    if not found:
        raise GenzooError(f"{a.run}: no checkpoints there; pass a run directory trained with optim.ema")
    missing = [s for s in steps if s not in found]
    if missing:
        raise GenzooError(f"{a.run} has no checkpoint at step {', '.join(map(str, missing))}; "
                          f"it has {', '.join(map(str, sorted(found)))}")
    seeds = int_list(a.seeds, "--seeds")
    print("| step | averaged G: modes | high quality | live G: modes | high quality |\n|---|---|---|---|---|")
    for s in steps:
        algo, meta = load_algo(found[s], "cpu")
        if getattr(algo, "ema", None) is None or not meta["config"]["data"]["dataset"].startswith("toy:"):
            raise GenzooError(f"{a.run} is not a toy run trained with optim.ema; nothing to compare")
        mixture = meta["config"]["data"]["dataset"][4:]
        centers = mode_centers(mixture)
        if centers is None:
            raise GenzooError(f"toy:{mixture} has no modes to count; use a ring8 or grid25 run")
        std = mode_std(mixture)
        rows = {"ema": [], "live": []}
        for seed in seeds:
            z = algo.sample_z(2500, torch.Generator().manual_seed(seed))
            with torch.no_grad():
                algo.G.eval()
                live = algo.G(z)
            rows["ema"].append(toy_metrics(algo.generate(z), centers, std))
            rows["live"].append(toy_metrics(live, centers, std))
        cells = []
        for k in ("ema", "live"):
            modes = mean_std([m["modes_captured"] for m in rows[k]])
            hq = mean_std([100 * m["high_quality_fraction"] for m in rows[k]])
            cells += [f"{modes[0]:.1f} ± {modes[1]:.1f}", f"{hq[0]:.1f} ± {hq[1]:.1f} %"]
        print(f"| {s:,} | " + " | ".join(cells) + " |", flush=True)


with exit_on_user_error():
    main()
