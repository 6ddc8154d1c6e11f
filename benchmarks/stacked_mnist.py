"""PacGAN Table 2: DCGAN vs PacDCGAN-m on Stacked MNIST (1,000 modes), modes and KL to uniform.

Protocol of PacGAN/VEEGAN: DCGAN nets, z 100, Adam 2e-4 beta1 0.5, batch 64 (packs: 64 x m samples),
50 epochs of the 128,000 images (2,000 steps per epoch = 100,000 steps), 26,000 samples evaluated.
Full:   python benchmarks/stacked_mnist.py --epochs 50 --n 26000
Short:  python benchmarks/stacked_mnist.py --steps 300 --n 5000 --packs 1,2
"""
import argparse
import time

import genzoo

PUBLISHED = {"DCGAN": (99, 3.40), "ALI": (16, 5.40), "Unrolled GAN": (48.7, 4.32), "VEEGAN": (150, 2.95),
             "PacDCGAN2": (1000, 0.06), "PacDCGAN3": (1000, 0.06), "PacDCGAN4": (1000, 0.07)}

p = argparse.ArgumentParser()
p.add_argument("--packs", default="1,2,4")
p.add_argument("--epochs", type=float, default=None)
p.add_argument("--steps", type=int, default=None, help="overrides --epochs")
p.add_argument("--n", type=int, default=26_000)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--out", default="runs/bench-stacked")
a = p.parse_args()
steps = a.steps or round((a.epochs or 50) * 128_000 / 64)
rows = []
for m in [int(x) for x in a.packs.split(",")]:
    name = "DCGAN" if m == 1 else f"PacDCGAN{m}"
    t = time.process_time()
    run = genzoo.train("dcgan", dataset="stacked-mnist", steps=steps, seed=a.seed, batch_size=64 * m,
                       out=f"{a.out}/{name}-s{a.seed}", progress=False,
                       overrides=[f"model.pack={m}", "model.z_dim=100", "optim.lr_g=2e-4", "optim.lr_d=2e-4",
                                  "optim.beta1=0.5", "train.report=false"])
    cpu = time.process_time() - t
    r = genzoo.evaluate(run, n=a.n, seed=a.seed)["metrics"]
    rows.append((name, r["modes"], r["kl_to_uniform"], cpu))
print(f"Stacked MNIST, {steps} steps, {a.n} samples, seed {a.seed}\n")
print("| model | modes | KL | published modes | published KL | train CPU s |\n|---|---|---|---|---|---|")
for name, modes, kl, cpu in rows:
    pm, pk = PUBLISHED.get(name, ("–", "–"))
    print(f"| {name} | {modes} | {kl:.2f} | {pm} | {pk} | {cpu:.0f} |")
