"""PacGAN Table 1 under the PacGAN 2-D protocol (Lin et al. 2018): GAN vs PacGAN-m on ring8 and grid25.

Full protocol (10 runs per row, 400 epochs = 400,000 steps per run; hours of CPU per run):
    python benchmarks/pacgan_protocol.py --runs 10 --jobs 8
Short budget (what docs/results/modes.md reports):
    python benchmarks/pacgan_protocol.py --runs 1 --epochs 1 --recipes gan,pacgan2 --jobs 2
One run's path to the full budget, evaluated along the way (each budget continues the last):
    python benchmarks/pacgan_protocol.py --runs 1 --recipes gan --mixtures ring8 --epochs 25,50,100,200,400
A variation of the protocol (for the best genzoo configuration), in its own folder:
    python benchmarks/pacgan_protocol.py --runs 5 --recipes gan --mixtures ring8 --epochs 25 --set optim.ema=0.999 \
        --out runs/bench-pacgan-ema
Same as `genzoo experiment modes --mixture M --protocol pacgan ...` for each mixture; finished runs are reused.
"""
import time
from pathlib import Path

from genzoo.cli import Parser
from genzoo.cli.common import float_list
from genzoo.errors import exit_on_user_error
from genzoo.studies.modes import modes_experiment, report

p = Parser(description="PacGAN Table 1 under the PacGAN 2-D protocol: trains --runs seeds of each row on each "
           "mixture, evaluates 2,500 samples per run and prints mean ± std next to the published rows. Finished "
           "runs are reused; a longer budget continues them.")
p.add_argument("--runs", type=int, default=10, help="seeds per row (default 10, as in the paper)")
p.add_argument("--seed", type=int, default=0, help="first seed; run k uses seed + k (default 0)")
p.add_argument("--epochs", default=None,
               help="default: the protocol's 400; a comma list evaluates the same runs at each budget in turn")
p.add_argument("--recipes", default="gan,pacgan2,pacgan3,pacgan4",
               help="comma list of rows: gan = pack 1, pacganM = pack M (default: the four of Table 1)")
p.add_argument("--mixtures", default="ring8,grid25", help="comma list of ring8, grid25 (default both)")
p.add_argument("--jobs", type=int, default=1, help="runs trained in parallel processes (default 1)")
p.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda, cuda:N or mps")
p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
               help="a variation of the protocol for every row (not pack, batch, data, seed or steps)")
p.add_argument("--out", default="runs/bench-pacgan", help="output folder (default runs/bench-pacgan)")
a = p.parse_args()


def main():
    budgets = float_list(a.epochs, "--epochs") if a.epochs else [None]
    for mix in a.mixtures.split(","):
        t = time.time()
        for epochs in budgets:  # a longer budget continues the runs of the shorter one
            r = modes_experiment(mix, a.recipes.split(","), a.runs, Path(a.out), "pacgan", epochs, a.jobs, a.seed,
                                 a.threads, a.device, a.overrides)
            print(report(r))
            print(f"wall so far {time.time() - t:.0f} s\n", flush=True)


with exit_on_user_error():
    main()
