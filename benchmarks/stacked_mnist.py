"""PacGAN Table 2: DCGAN vs PacDCGAN-m on Stacked MNIST (1,000 modes), modes and KL to uniform.

The protocol is genzoo.studies.stacked: ``--protocol paper`` is what PacGAN's paper states (DCGAN nets, z 100,
Adam 2e-4 beta1 0.5, batch 64 (packs: 64 x m samples), 50 epochs of the 128,000 images = 100,000 steps, 26,000
samples evaluated); ``--protocol code`` adds what the authors' code does beyond it (carpedm20's 4-layer 5 x 5 nets,
two G steps per D step, uniform z), at several times the cost of a step.
Full:   python benchmarks/stacked_mnist.py --epochs 50
Shorter, evaluated on the way (each budget continues the runs of the one before):
        python benchmarks/stacked_mnist.py --steps 2500,5000,10000 --threads 1
A variation of the protocol (for the best genzoo configuration), in its own folder:
        python benchmarks/stacked_mnist.py --packs 1 --steps 10000,25000 --set optim.ema=0.999 \
            --out runs/bench-stacked-ema
"""
import time
from pathlib import Path

import torch

import genzoo
from genzoo.cli import Parser
from genzoo.cli.common import int_list
from genzoo.errors import at_least_1, exit_on_user_error
from genzoo.studies.modes import check_reuse
from genzoo.studies.stacked import EPOCHS, EVAL_SAMPLES, PROTOCOLS, PUBLISHED, STEPS_PER_EPOCH, row_name, \
    stacked_config

p = Parser(description="PacGAN Table 2 on Stacked MNIST: trains DCGAN (pack 1) and PacDCGAN-m, evaluates modes "
           "and KL to uniform on lenet-mnist's reading of each channel, and prints them next to the published rows. "
           "Finished runs are continued or re-evaluated.")
p.add_argument("--packs", default="1,2,4", help="comma list of packs: 1 = DCGAN, m = PacDCGANm (default 1,2,4)")
p.add_argument("--protocol", choices=sorted(PROTOCOLS), default="paper",
               help="paper: what PacGAN's paper states; code: plus what the authors' code does (default paper)")
p.add_argument("--epochs", type=float, default=None, help=f"epochs of the 128,000 images (default {EPOCHS})")
p.add_argument("--steps", default=None, help="overrides --epochs; a comma list evaluates each model at each budget")
p.add_argument("--n", type=int, default=EVAL_SAMPLES, help=f"samples evaluated per model (default {EVAL_SAMPLES})")
p.add_argument("--seed", type=int, default=0, help="training and evaluation seed (default 0)")
p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda, cuda:N or mps")
p.add_argument("--data-root", default=None, help="folder holding mnist/ (default $GENZOO_DATA, then the cache)")
p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
               help="a variation of the protocol for every model (use its own --out)")
p.add_argument("--out", default=None, help="default runs/bench-stacked, or runs/bench-stacked-code")
a = p.parse_args()


def main():
    at_least_1(threads=a.threads)
    if a.threads is not None:
        torch.set_num_threads(a.threads)
    out_root = a.out or ("runs/bench-stacked" if a.protocol == "paper" else f"runs/bench-stacked-{a.protocol}")
    budgets = int_list(a.steps, "--steps") if a.steps else [round((a.epochs or EPOCHS) * STEPS_PER_EPOCH)]
    runs = [(m, Path(out_root) / f"{row_name(m)}-s{a.seed}") for m in int_list(a.packs, "--packs")]
    for m, out in runs:  # every run to continue was trained with these settings: checked before any work
        check_reuse(stacked_config(m, a.seed, budgets[0], a.protocol, a.overrides), out)
    rows = []
    for m, out in runs:
        rows += train_and_evaluate(m, out, budgets)
    print_table(rows)


def train_and_evaluate(m, out, budgets):
    name, rows, wall = row_name(m), [], 0.0
    for steps in budgets:
        t = time.time()
        done = genzoo.Run.open(out, device=a.device).step if (out / "checkpoints").is_dir() else -1
        if done > steps:  # a rerun: this run is past the budget (only budgets at or past its step are evaluated)
            print(f"{name}: already at step {done}, skipping the {steps}-step budget", flush=True)
            continue
        if done == steps:  # trained before: evaluate that checkpoint again
            run = genzoo.Run.open(out, device=a.device)
        elif done >= 0:  # a longer budget continues the run
            run = genzoo.train(resume=out, steps=steps, progress=False, device=a.device, data_root=a.data_root)
        else:
            cfg = stacked_config(m, a.seed, steps, a.protocol, a.overrides)
            cfg.set("train.device", a.device)
            if a.data_root:
                cfg.set("data.root", a.data_root)
            run = genzoo.train(cfg, out=out, progress=False)
        wall += time.time() - t
        r = genzoo.evaluate(run, n=a.n, seed=a.seed)["metrics"]
        kl, tc, low = r["kl_to_uniform"], r["total_correlation"], r["low_confidence"]
        rows.append((name, steps, r["modes"], kl, sum(r["kl_channels"]), tc, low, wall))
        print(f"{name} step {steps}: {r['modes']} modes, KL {kl:.3f} (channels "
              + " + ".join(f"{k:.3f}" for k in r["kl_channels"]) + f", total correlation {tc:.3f}), "
              f"{low:.1%} of channels read with p < 0.9, train wall {wall:.0f} s", flush=True)
    return rows


def print_table(rows):
    print(f"\nStacked MNIST, protocol {a.protocol}" + (f" with {' '.join(a.overrides)}" if a.overrides else "")
          + f", {a.n} samples, seed {a.seed}, {torch.get_num_threads()} thread(s)\n")
    print("| model | steps | epochs | modes | KL | channels' KL | total correlation | read with p < 0.9 "
          "| published modes | published KL | train wall s |\n|---|---|---|---|---|---|---|---|---|---|---|")
    for name, steps, modes, kl, kl_c, tc, low, wall in rows:
        pm, pk = PUBLISHED.get(name, ("–", "–"))
        print(f"| {name} | {steps} | {steps / STEPS_PER_EPOCH:.1f} | {modes} | {kl:.3f} | {kl_c:.3f} | {tc:.3f} "
              f"| {low:.1%} | {pm} | {pk} | {wall:.0f} |")


with exit_on_user_error():
    main()
