"""PacGAN Table 2: DCGAN vs PacDCGAN-m on Stacked MNIST (1,000 modes), modes and KL to uniform.

Protocol of PacGAN/VEEGAN: DCGAN nets, z 100, Adam 2e-4 beta1 0.5, batch 64 (packs: 64 x m samples),
50 epochs of the 128,000 images (2,000 steps per epoch = 100,000 steps), 26,000 samples evaluated.
Full:   python benchmarks/stacked_mnist.py --epochs 50 --n 26000
Shorter, evaluated on the way (each budget continues the runs of the one before):
        python benchmarks/stacked_mnist.py --steps 2500,5000,10000 --threads 1
"""
import argparse
import time
from pathlib import Path

import torch

import genzoo

PUBLISHED = {"DCGAN": (99, 3.40), "ALI": (16, 5.40), "Unrolled GAN": (48.7, 4.32), "VEEGAN": (150, 2.95),
             "PacDCGAN2": (1000, 0.06), "PacDCGAN3": (1000, 0.06), "PacDCGAN4": (1000, 0.07)}

p = argparse.ArgumentParser()
p.add_argument("--packs", default="1,2,4")
p.add_argument("--epochs", type=float, default=None)
p.add_argument("--steps", default=None, help="overrides --epochs; a comma list evaluates each model at each budget")
p.add_argument("--n", type=int, default=26_000)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
p.add_argument("--out", default="runs/bench-stacked")
a = p.parse_args()
if a.threads:
    torch.set_num_threads(a.threads)
budgets = [int(s) for s in a.steps.split(",")] if a.steps else [round((a.epochs or 50) * 128_000 / 64)]
rows = []
for m in [int(x) for x in a.packs.split(",")]:
    name = "DCGAN" if m == 1 else f"PacDCGAN{m}"
    out, wall = Path(f"{a.out}/{name}-s{a.seed}"), 0.0
    for steps in budgets:
        t = time.time()
        done = genzoo.Run.open(out).step if (out / "checkpoints").is_dir() else -1
        if done > steps:  # a rerun: this run is past the budget (its latest checkpoint is evaluated below)
            print(f"{name}: already at step {done}, skipping the {steps}-step budget", flush=True)
            continue
        if done == steps:  # trained before: evaluate that checkpoint again
            run = genzoo.Run.open(out)
        elif done >= 0:  # a longer budget continues the run
            run = genzoo.train(resume=out, steps=steps, progress=False)
        else:
            run = genzoo.train("dcgan", dataset="stacked-mnist", steps=steps, seed=a.seed, batch_size=64 * m,
                               out=out, progress=False,
                               overrides=[f"model.pack={m}", "model.z_dim=100", "optim.lr_g=2e-4", "optim.lr_d=2e-4",
                                          "optim.beta1=0.5", "train.report=false"])
        wall += time.time() - t
        r = genzoo.evaluate(run, n=a.n, seed=a.seed)["metrics"]
        rows.append((name, steps, r["modes"], r["kl_to_uniform"], wall))
        print(f"{name} step {steps}: {r['modes']} modes, KL {r['kl_to_uniform']:.3f}, "
              f"train wall {wall:.0f} s", flush=True)
print(f"\nStacked MNIST, {a.n} samples, seed {a.seed}, {torch.get_num_threads()} thread(s)\n")
print("| model | steps | epochs | modes | KL | published modes | published KL | train wall s |\n"
      "|---|---|---|---|---|---|---|---|")
for name, steps, modes, kl, wall in rows:
    pm, pk = PUBLISHED.get(name, ("–", "–"))
    print(f"| {name} | {steps} | {steps * 64 / 128_000:.1f} | {modes} | {kl:.2f} | {pm} | {pk} | {wall:.0f} |")
