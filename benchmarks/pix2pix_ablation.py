"""The pix2pix objective ablation (Isola et al. 2017, Table 1 and Fig. 4) at CPU scale.

    python benchmarks/pix2pix_ablation.py [--steps 3000] [--data-root ../shared/data] [--out runs/pix2pix-ablation]
                                          [--tasks colour,edges] [--modes l1,cgan,l1+cgan] [--n 2000]

Trains the pix2pix recipe with L1 alone, the cGAN term alone and L1 + cGAN, for the same number of
steps and the same seed, on two tasks: colorisation of CIFAR-10 (gray2color) and edges -> Fashion-MNIST
(Canny edges). Then evaluates each on the first --n test pairs (`genzoo evaluate`): L1, PSNR and SSIM
against the target, colourfulness of outputs against the targets' (Hasler & Süsstrunk; colour task), and
FID on the evaluation classifier's features against the test targets where genzoo has that classifier.
Prints one table per task and writes OUT/TASK.png: the same 8 test conditions, then each mode's
outputs, then the targets, one column block per mode. Finished runs are reused.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from genzoo import images
from genzoo.errors import exit_on_user_error
from genzoo.training import checkpoint
from genzoo.config_files import load_recipe
from genzoo.data import to_uint8
from genzoo.evaluation import evaluate
from genzoo.run import Run
from genzoo.training.checkpoint import ckpt_dir
from genzoo.training.loop import train
from genzoo.run import translate_all

TASKS = {"colour": ("cifar10", "gray2color"), "edges": ("fashion-mnist", "edges")}


def ensure_run(task: str, mode: str, steps: int, root: str | None, out: Path) -> tuple[Path, float | None]:
    run = out / task / mode.replace("+", "_")
    last = checkpoint.latest(ckpt_dir(run))
    if last is not None and checkpoint.load(last)[1]["step"] >= steps:
        return run, None
    dataset, pairs = TASKS[task]
    cfg = load_recipe("pix2pix", dataset)
    cfg.set("data.root", root)
    cfg.set("data.task", pairs)
    cfg.set("loss.mode", mode)
    cfg.set("train.steps", steps)
    t = time.perf_counter()
    train(cfg, run, resume=last is not None, progress=False)
    return run, time.perf_counter() - t


def picture(runs: dict[str, Path], path: Path, n: int = 8) -> None:
    """Rows: test conditions, each mode's outputs, targets (one row of n pairs spread over the test split)."""
    rows = []
    for i, (mode, run) in enumerate(runs.items()):
        r = Run.open(run)
        cfg, algo = r.cfg, r.algo
        every = r.pairs()
        idx = torch.linspace(0, len(every["x"]) - 1, n).long()
        b = {k: v[idx] for k, v in every.items()}
        out = translate_all(algo, b["a"])
        c = out.shape[1]
        if i == 0:
            rows.append(b["a"].expand(-1, c, -1, -1) if b["a"].shape[1] != c else b["a"])
        rows.append(out)
    rows.append(b["x"])
    images.save_grid(path, to_uint8(torch.cat(rows)), nrow=n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default="runs/pix2pix-ablation")
    ap.add_argument("--tasks", default="colour,edges")
    ap.add_argument("--modes", default="l1,cgan,l1+cgan")
    ap.add_argument("--n", type=int, default=2000, help="test pairs evaluated")
    args = ap.parse_args()
    out = Path(args.out)
    for task in args.tasks.split(","):
        runs, rows = {}, []
        for mode in args.modes.split(","):
            run, secs = ensure_run(task, mode, args.steps, args.data_root, out)
            runs[mode] = run
            m = evaluate(run, n=args.n)["metrics"]
            rows.append((mode, secs, m))
        picture(runs, out / f"{task}.png")
        dataset, pairs = TASKS[task]
        print(f"\n{pairs} on {dataset}, {args.steps} steps each, {args.n} test pairs "
              f"(rows of {out / f'{task}.png'}: condition, " + ", ".join(runs) + ", target)")
        fid_key = next((k for k in rows[0][2] if k.startswith("fid[")), None)
        head = "| loss | L1 | PSNR dB | SSIM |" + (" colourfulness (target) |" if task == "colour" else "") \
            + (f" {fid_key} |" if fid_key else "")
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for mode, secs, m in rows:
            cells = [mode, f"{m['l1']['value']:.4f}", f"{m['psnr']['value']:.2f}", f"{m['ssim']['value']:.3f}"]
            if task == "colour":
                cells.append(f"{m['colourfulness']['value']:.1f} ({m['colourfulness']['target']:.1f})")
            if fid_key:
                cells.append(f"{m[fid_key]['value']:.2f}")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
