"""GANs and VAEs on the same footing: one table of MNIST metrics, all from genzoo commands.

    python benchmarks/gan_vs_vae.py [--data-root ../shared/data] [--out runs/gan-vs-vae] [--n 10000]
                                    [--k 1000] [--only dcgan,wgan-gp,vae,beta-vae,cvae,ae] [--steps R=N,...]

Trains each recipe on full MNIST with its own default step count (or reuses a finished run), then
runs `genzoo evaluate` on it: fid/kid on the lenet-mnist features, precision/recall, the class
histogram, and for the autoencoders the test ELBO, the importance-sampled NLL bound with --k
samples and the reconstruction error. Every model is sampled the same way: 10,000 draws from its
prior pushed through its generator or decoder (decoder means for the VAEs). Prints a markdown table,
with the real train split as the floor (`genzoo evaluate --real mnist`), and writes a 64-sample
grid per run (OUT/RECIPE/samples.png) and one picture of all grids side by side (OUT/grids.png).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from genzoo.errors import exit_on_user_error
from genzoo.training import checkpoint
from genzoo.cli import main as genzoo
from genzoo.config_files import load_recipe
from genzoo.evaluation import evaluate, evaluate_real
from genzoo.training.checkpoint import ckpt_dir
from genzoo.training.loop import train

RECIPES = ("dcgan", "wgan-gp", "vae", "beta-vae", "cvae", "ae")


def ensure_run(recipe: str, steps: int | None, root: str | None, out: Path) -> tuple[Path, float | None, int]:
    run = out / recipe
    cfg = load_recipe(recipe, "mnist")
    cfg.set("data.root", root)
    if steps:
        cfg.set("train.steps", steps)
    last = checkpoint.latest(ckpt_dir(run))
    if last is not None and checkpoint.load(last)[1]["step"] >= cfg.train.steps:
        return run, None, cfg.train.steps
    t = time.perf_counter()
    train(cfg, run, resume=last is not None, progress=False)
    return run, time.perf_counter() - t, cfg.train.steps


def side_by_side(paths: list[Path], labels: list[str], out: Path) -> None:
    from PIL import Image, ImageDraw

    ims = [Image.open(p).convert("RGB") for p in paths]
    w, h = max(i.width for i in ims), max(i.height for i in ims)
    sheet = Image.new("RGB", (len(ims) * (w + 8), h + 18), "white")
    draw = ImageDraw.Draw(sheet)
    for j, (im, lab) in enumerate(zip(ims, labels)):
        sheet.paste(im, (j * (w + 8), 18))
        draw.text((j * (w + 8) + 4, 3), lab, fill="black")
    sheet.save(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default="runs/gan-vs-vae")
    ap.add_argument("--only", default=",".join(RECIPES))
    ap.add_argument("--steps", default="", help="per-recipe step counts, e.g. vae=50000,dcgan=5000")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--k", type=int, default=1000)
    args = ap.parse_args()
    out = Path(args.out)
    steps = {r: int(n) for r, n in (kv.split("=") for kv in args.steps.split(",") if kv)}
    real = evaluate_real("mnist", args.data_root, args.n, "fid,kid,pr,modes")["metrics"]
    rows = [("real train split (floor)", "-", "-", real, None)]
    grids, names = [], []
    for recipe in args.only.split(","):
        run, secs, n_steps = ensure_run(recipe, steps.get(recipe), args.data_root, out)
        m = evaluate(run, n=args.n, k=args.k, metrics="fid,kid,pr,modes")["metrics"]
        rows.append((recipe, n_steps, "reused" if secs is None else f"{secs / 60:.1f}", m, recipe))
        genzoo(["sample", str(run), "--n", "64", "--out", str(run / "samples.png")])
        grids.append(run / "samples.png")
        names.append(recipe)
    side_by_side(grids, names, out / "grids.png")
    print(f"\nMNIST test split, n={args.n} samples per model; NLL bound with k={args.k}\n")
    print("| model | steps | train min | fid[lenet-mnist] | kid[lenet-mnist] | precision | recall | classes >= 1% "
          "| test ELBO | test NLL | rec. MSE |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, n_steps, mins, m, _ in rows:
        nll = next((v["value"] for k, v in m.items() if k.startswith("nll[")), None)
        cells = [name, str(n_steps), mins, f"{m['fid[lenet-mnist]']['value']:.2f}",
                 f"{m['kid[lenet-mnist]']['value']:.3f}", f"{m['precision']['value']:.3f}",
                 f"{m['recall']['value']:.3f}", str(m["modes"]["classes_covered"]),
                 f"{m['elbo']['value']:.2f}" if "elbo" in m else "-", f"{nll:.2f}" if nll else "-",
                 f"{m['rec_mse']['value']:.4f}" if "rec_mse" in m else "-"]
        print("| " + " | ".join(cells) + " |")
    print(f"\nsample grids: {out / 'grids.png'}")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
