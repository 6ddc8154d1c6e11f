"""The genzoo command line. Strings become objects here; user errors become one line and exit code 2."""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

EXIT_USER = 2


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a recipe and write a run directory",
                       description="Train a model from a recipe. Writes config.yaml, log.jsonl, samples/, "
                                   "checkpoints/ and progress.gif into the run directory.",
                       epilog="examples:\n  genzoo train dcgan --dataset mnist --data-root ../shared/data --steps 3000\n"
                              "  genzoo train dcgan --set model.z_dim=10 --set train.sample_every=100\n"
                              "  genzoo train --resume runs/dcgan-mnist --steps 5000\n"
                              "  genzoo train vae --dataset mnist --steps 20000\n"
                              "  genzoo train pix2pix --task gray2color --dataset cifar10\n"
                              "  genzoo train pix2pix --task edges --dataset fashion-mnist --set loss.mode=l1\n"
                              "  genzoo train pix2pix --task ab --dataset folder:~/facades --set data.direction=BtoA",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", nargs="?", help="recipe name (see `genzoo list`); omit with --resume")
    p.add_argument("--dataset", help="dataset spec: embedded (default), mnist, fashion-mnist, folder:PATH, toy:ring8, ...")
    p.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    p.add_argument("--steps", type=int, help="number of generator steps (total, also when resuming)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--out", help="run directory (default: runs/RECIPE-DATASET)")
    p.add_argument("--seed", type=int, help="seed for initialisation, noise and data order")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="auto uses bf16 autocast where the CPU/GPU supports it natively")
    p.add_argument("--strict", action="store_true", help="folder datasets: fail on unreadable images instead of skipping")
    p.add_argument("--task", choices=["gray2color", "edges", "downsample", "mask", "ab", "folders"],
                   help="pix2pix: how pairs are made (data.task): built from the dataset (gray2color, edges, "
                        "downsample, mask) or read from AB files / A and B folders")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set model.z_dim=10 (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run exactly from its latest checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="generate images from a trained run",
                       description="Generate N samples from a run's latest checkpoint and write a PNG grid "
                                   "(default RUN_DIR/samples.png) or an .npz of uint8 images (N, H, W, C). "
                                   "For pix2pix runs: condition | output | target triplets on the first N test "
                                   "pairs (at most 64).")
    p.add_argument("run_dir")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--label", type=int, help="conditional runs: generate this class only (InfoGAN: this category "
                                             "of the categorical code)")
    p.add_argument("--grid-by-class", action="store_true",
                   help="conditional runs: one row per class over shared noise (the same z in each column, "
                        "so style stays fixed while the class changes); --n sets the columns (default 10)")
    p.add_argument("--variations", type=int, metavar="K",
                   help="pix2pix runs: K outputs per test input with dropout kept on, and how much they differ")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--out", help="PNG file for the grid")
    g.add_argument("--npz", help="write the samples to this .npz (key 'images') instead of a grid")


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="measure a trained run (or real data) and write metrics.json",
                       description="Generate from a run's latest checkpoint and measure it against the real test "
                                   "split on the features of the dataset's evaluation classifier: fid[lenet-*], "
                                   "kid[lenet-*] (100 subsets of 1,000), is[lenet-*], precision/recall (k=3), "
                                   "density/coverage (k=5) and the class histogram (modes.png). "
                                   "Toy runs report modes_captured, high_quality_fraction and reverse_kl on 2,500 "
                                   "samples (VEEGAN/PacGAN protocol) and draw toy.png. "
                                   "--real DATASET measures real train images against the test split: the floor "
                                   "every model's numbers should be read against. "
                                   "Inception FID, comparable with the literature, is optional: --inception uses the "
                                   "standard FID Inception-v3 weights where pytorch-fid or torch-fidelity cached them "
                                   "(torch.hub's checkpoints folder), --inception-weights PATH a file you supply "
                                   "(pt_inception-2015-12-05-6726825d.pth, weights-inception-2015-12-05-6726825d.pth "
                                   "or a .safetensors from `genzoo inception convert`). It adds fid/kid/is[inception-v3] "
                                   "and is slow on a CPU (images are resized to 299x299: minutes per 10,000).",
                       epilog="examples:\n  genzoo evaluate runs/dcgan-mnist --n 10000\n"
                              "  genzoo evaluate --real mnist --data-root ../shared/data\n"
                              "  genzoo evaluate runs/nsgan-toy-ring8\n"
                              "  genzoo evaluate runs/dcgan-cifar10 --inception-weights pt_inception-2015-12-05-6726825d.pth",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", nargs="?")
    p.add_argument("--real", metavar="DATASET", help="evaluate real train images of DATASET instead of a run")
    p.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    p.add_argument("--n", type=int, help="generated samples (default 10000; toy runs 2500)")
    p.add_argument("--metrics", help="comma list from fid,kid,is,pr,dc,modes (default: all)")
    p.add_argument("--k", type=int, default=100,
                   help="AE/VAE runs: importance samples per test image for the NLL bound (default 100; "
                        "Burda et al. use 5000); the bound tightens as k grows, so it is reported as nll[k=K]. "
                        "Costs k decoder passes per test image: seconds for the MLP vae, minutes for conv decoders")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="with --real: folder for metrics.json and modes.png")
    p.add_argument("--inception", action="store_true",
                   help="also compute fid/kid/is[inception-v3] with the cached standard weights")
    p.add_argument("--inception-weights", metavar="PATH",
                   help="FID Inception-v3 weights file; implies --inception")


def _add_classifier(sub) -> None:
    p = sub.add_parser("classifier", help="train the evaluation classifiers",
                       description="Evaluation classifiers (a small LeNet-like CNN per dataset) give the features "
                                   "for FID/KID/PR/DC and the labels for mode histograms. Weights for mnist (also "
                                   "used for the embedded set) and fashion-mnist ship with genzoo; this command "
                                   "reproduces them or trains new ones (cifar10, folder:PATH with class subfolders).")
    csub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    t = csub.add_parser("train", help="train a classifier and report its test accuracy")
    t.add_argument("--dataset", required=True, help="mnist, fashion-mnist, cifar10 or folder:PATH")
    t.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    t.add_argument("--epochs", type=int, help="default: 4 (mnist), 12 (fashion-mnist), 25 (cifar10)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="weights file (default ~/.cache/genzoo/classifiers/lenet-KEY.safetensors)")
    t.add_argument("--quiet", action="store_true")


def _add_inception(sub) -> None:
    p = sub.add_parser("inception", help="check or convert FID Inception-v3 weights (optional Inception FID)",
                       description="genzoo ships no Inception weights. With the standard FID file "
                                   "(pt_inception-2015-12-05-6726825d.pth from pytorch-fid or "
                                   "weights-inception-2015-12-05-6726825d.pth from torch-fidelity), `genzoo evaluate "
                                   "--inception-weights PATH` reports fid[inception-v3], comparable with published "
                                   "numbers. Those files are read with torch.load(weights_only=True), which cannot run "
                                   "code; `convert` writes a safetensors copy of the tensors genzoo uses.")
    isub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = isub.add_parser("convert", help="write a .safetensors copy of a FID Inception-v3 weights file")
    c.add_argument("src", help="pt_inception-2015-12-05-6726825d.pth or weights-inception-2015-12-05-6726825d.pth")
    c.add_argument("dst", help="output .safetensors file")
    isub.add_parser("where", help="say which weights file --inception would use")


def _add_interpolate(sub) -> None:
    p = sub.add_parser("interpolate", help="walk the latent space between seeded points",
                       description="Decode a path through z between the latents of the given seeds (the same z "
                                   "that `genzoo sample --seed S --n 1` uses): one row per consecutive pair in a PNG, "
                                   "or one animation in a GIF. slerp (the default) follows the great circle and "
                                   "keeps |z| near sqrt(z_dim), where Gaussian samples live; lerp cuts straight "
                                   "through the low-norm interior, which G rarely saw in training, and often "
                                   "gives washed-out images mid-way. For AE/VAE runs the path runs between the "
                                   "encodings (posterior means) of real test images, chosen by --images "
                                   "(default 0,1).",
                       epilog="examples:\n  genzoo interpolate runs/dcgan-mnist --seeds 0,1,2 --out walk.gif\n"
                              "  genzoo interpolate runs/vae-mnist --images 3,10 --method lerp",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("--seeds", help="comma list of at least two noise seeds (default 0,1; GAN runs)")
    p.add_argument("--images", help="AE/VAE runs: comma list of test-split indices to encode (default 0,1)")
    p.add_argument("--steps", type=int, default=10, help="images per pair, endpoints included (default 10)")
    p.add_argument("--method", choices=["slerp", "lerp"], default="slerp")
    p.add_argument("--out", help="PNG (rows) or GIF (animation); default RUN_DIR/interpolation.png")


def _add_theory(sub) -> None:
    p = sub.add_parser("theory", help="numerical checks of GAN theory, with figures",
                       description="optimal-d: a trained D matches D*(x) = p_data/(p_data + p_g) for fixed 1-D "
                                   "densities. equilibrium: with p_g = p_data, D -> 1/2 and V(D, G) -> -log 4. "
                                   "saturation: generator gradients of the minimax vs non-saturating loss as "
                                   "functions of D(G(z)). nash: gradient descent-ascent on min_x max_y xy, "
                                   "simultaneous vs alternating updates.")
    p.add_argument("name", choices=["optimal-d", "equilibrium", "saturation", "nash"])
    p.add_argument("--out", help="figure path (default theory-NAME.png)")


def _add_traverse(sub) -> None:
    p = sub.add_parser("traverse", help="InfoGAN: sweep one continuous code for every category",
                       description="Draw an InfoGAN traversal grid: one row per category of the categorical "
                                   "code, columns sweeping continuous code N from -SPAN to SPAN (training used "
                                   "[-1, 1], so the outer columns extrapolate, as in Chen et al. 2016, Fig. 2), "
                                   "with the same z everywhere and the other continuous codes at 0.",
                       epilog="example:\n  genzoo traverse runs/infogan-mnist --code 0 --out rotation.png",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--code", type=int, required=True, help="which continuous code (0-based)")
    p.add_argument("--steps", type=int, default=9, help="columns (default 9)")
    p.add_argument("--span", type=float, default=2.0, help="sweep from -SPAN to SPAN (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shared z (default 0)")
    p.add_argument("--out", help="PNG file (default RUN_DIR/traverse_code{N}.png)")


def _add_diagnose(sub) -> None:
    p = sub.add_parser("diagnose", help="summarise a run's training alerts and plot its signals",
                       description="Read RUN_DIR/log.jsonl, print the alerts raised while training "
                                   "(d_saturated, vanishing_g_gradient, mode_collapse, divergence, oscillation) "
                                   "with their evidence and advice, and plot the watcher signals to "
                                   "diagnostics.png. Alerts are configured at training time with --set "
                                   "watch.<name>=warn|stop|rollback.",
                       epilog="example:\n  genzoo diagnose runs/dcgan-embedded",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--out", help="figure path (default RUN_DIR/diagnostics.png)")


def _add_experiment(sub) -> None:
    p = sub.add_parser("experiment", help="the seeds' experiments, one command each",
                       description="zdim: SEEDS 003's experiment. Trains one dcgan per z_dim (same seed, same "
                                   "fixed noise), then classifies 10,000 samples of each with the evaluation "
                                   "classifier: class histograms side by side (zdim_modes.png), a table of KL to "
                                   "uniform, classes covered, FID on classifier features and grid flicker "
                                   "(zdim.md, zdim.json), and a short summary.")
    esub = p.add_subparsers(dest="name", required=True, metavar="NAME")
    z = esub.add_parser("zdim", help="the z-dimension sweep of SEEDS 003")
    z.add_argument("--dims", default="100,50,10,2,1", help="comma list of z dimensions (default 100,50,10,2,1)")
    z.add_argument("--steps", type=int, default=3000, help="steps per model (default 3000)")
    z.add_argument("--dataset", default="mnist")
    z.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    z.add_argument("--n", type=int, default=10_000, help="samples classified per model (default 10000)")
    z.add_argument("--seed", type=int, default=0)
    z.add_argument("--out", default="runs/zdim", help="output folder (default runs/zdim); finished runs are reused")
    z.add_argument("--quiet", action="store_true")
    w = esub.add_parser("wgan-signal", help="does the critic's Wasserstein estimate track sample quality?",
                        description="Train wgan (and, for contrast, dcgan) with checkpoints at 10 points; at each, "
                                    "fid[lenet-*] on --n samples and the training signal averaged over the interval "
                                    "before it: the critic's estimate E[D(x)] - E[D(G(z))] for wgan/wgan-gp, D's "
                                    "loss otherwise. Writes wgan_signal.png/.json and prints Spearman's rank "
                                    "correlation of signal and FID per recipe.")
    w.add_argument("--recipes", default="wgan,dcgan", help="comma list (default wgan,dcgan)")
    w.add_argument("--steps", type=int, default=2000, help="steps per recipe (default 2000)")
    w.add_argument("--dataset", default="mnist")
    w.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    w.add_argument("--n", type=int, default=2000, help="samples per FID (default 2000)")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--out", default="runs/wgan-signal", help="output folder; finished runs are reused")
    w.add_argument("--quiet", action="store_true")


def _add_invert(sub) -> None:
    p = sub.add_parser("invert", help="find z for real images (learned approximate inference)",
                       description="Invert a GAN run's generator on real images: by optimisation (Adam on z with "
                                   "restarts; pixel MSE plus evaluation-classifier feature distance) or, with "
                                   "--encoder, by an encoder trained on the generator's own samples. Images of "
                                   "another size or channel count are resized (bicubic) and converted to the "
                                   "run's shape. Writes inputs (top row) above their inversions (bottom row).")
    p.add_argument("run_dir")
    p.add_argument("images", nargs="*", help="image files (PNG/JPEG)")
    p.add_argument("--test", type=int, metavar="N", help="invert the first N test images of the run's dataset instead")
    p.add_argument("--encoder", action="store_true", help="use an encoder trained on G's samples")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps per restart (default 300)")
    p.add_argument("--restarts", type=int, default=4)
    p.add_argument("--encoder-steps", type=int, default=1500, help="training steps of the encoder (default 1500)")
    p.add_argument("--out", help="PNG (default RUN_DIR/inversion.png)")


def _add_translate(sub) -> None:
    p = sub.add_parser("translate", help="pix2pix: translate image files with a trained run",
                       description="Run a pix2pix generator on image files and write one PNG per input into "
                                   "--out. Inputs must have the run's size (e.g. 32x32); grey and RGB are "
                                   "converted to the run's condition channels. --resize scales square images of "
                                   "another size first (antialiased bilinear).",
                       epilog="example:\n  genzoo translate runs/pix2pix-cifar10 photo_gray.png --out translated/",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files (PNG/JPEG)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--resize", action="store_true", help="scale square inputs of another size to the run's size")


def _add_latents(sub) -> None:
    p = sub.add_parser("latents", help="save named latent sets for `genzoo arithmetic`",
                       description="A latent set is the mean latent of several samples: those of the given seeds "
                                   "(the z of `genzoo sample --seed S --n 1`), or all samples of one class "
                                   "(conditional runs: the class code; unconditional image runs: the samples the "
                                   "evaluation classifier assigns to the class among --n prior draws). Saved as "
                                   "JSON in RUN_DIR/latents/NAME.json.",
                       epilog="examples:\n  genzoo latents save runs/dcgan-mnist seven --label 7\n"
                              "  genzoo latents save runs/dcgan-mnist bold_one --seeds 12,40,77\n"
                              "  genzoo latents list runs/dcgan-mnist",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    lsub = p.add_subparsers(dest="latents_command", required=True, metavar="ACTION")
    s = lsub.add_parser("save", help="save the mean latent of seeds or of a class under NAME")
    s.add_argument("run_dir")
    s.add_argument("name", help="letters, digits, _ and . (no '-': it means subtraction)")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--seeds", help="comma list of seeds whose latents are averaged")
    g.add_argument("--label", type=int, help="average the latents of this class")
    s.add_argument("--n", type=int, default=2000, help="--label on unconditional runs: prior draws to classify")
    lst = lsub.add_parser("list", help="list a run's saved latent sets")
    lst.add_argument("run_dir")


def _add_arithmetic(sub) -> None:
    p = sub.add_parser("arithmetic", help="decode a sum of saved latent sets, e.g. \"A - B + C\"",
                       description="Latent vector arithmetic (Radford et al. 2016, Sec. 6.3): combine saved "
                                   "latent sets (`genzoo latents save`) with + and -, decode the result and "
                                   "K - 1 variations with uniform noise in [-0.25, 0.25] added to z, and write one "
                                   "row: each term's decoded set, then the results. Where an evaluation "
                                   "classifier exists, prints the class it gives each result.",
                       epilog="example:\n  genzoo arithmetic runs/dcgan-mnist \"seven - one + bold_one\"",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("expression", help='saved set names joined by + and -, e.g. "A - B + C"')
    p.add_argument("--variations", type=int, default=8, help="results drawn around the sum (default 8)")
    p.add_argument("--renorm", action="store_true",
                   help="scale z of each result (and term) to norm sqrt(z_dim), the shell where Gaussian latents "
                        "live; a mean of many latents otherwise sits near 0 and decodes to an 'average' image")
    p.add_argument("--out", help="PNG (default RUN_DIR/arithmetic.png)")


def build_parser() -> argparse.ArgumentParser:
    from genzoo import __version__

    ap = argparse.ArgumentParser(prog="genzoo", description="Classic generative models of images: train, "
                                 "sample, evaluate. Run `genzoo COMMAND --help` for details.")
    ap.add_argument("--version", action="version", version=f"genzoo {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_sample(sub)
    _add_evaluate(sub)
    _add_classifier(sub)
    _add_inception(sub)
    _add_interpolate(sub)
    _add_theory(sub)
    _add_diagnose(sub)
    _add_traverse(sub)
    _add_experiment(sub)
    _add_invert(sub)
    _add_translate(sub)
    _add_latents(sub)
    _add_arithmetic(sub)
    sub.add_parser("list", help="list recipes and dataset specs", description="List recipes and dataset specs.")
    return ap


def cmd_train(args) -> int:
    from genzoo.config import load_config_file, load_recipe
    from genzoo.errors import GenzooError
    from genzoo.training.loop import train

    if args.resume:
        run = Path(args.resume)
        cfg = load_config_file(run / "config.yaml")
        if args.recipe and args.recipe != cfg.recipe:
            raise GenzooError(f"{run} is a '{cfg.recipe}' run; drop the recipe name when resuming")
        fixed = [n for n in ("dataset", "data_root", "batch_size", "seed", "out", "task") if getattr(args, n) is not None]
        if fixed or args.overrides:
            raise GenzooError("when resuming only --steps, --precision and --quiet may change; "
                              f"got {', '.join(fixed + ['--set'] * bool(args.overrides))}")
    else:
        if not args.recipe:
            raise GenzooError("name a recipe (see `genzoo list`) or pass --resume RUN_DIR")
        cfg = load_recipe(args.recipe, args.dataset)
        for field, value in (("data.root", args.data_root), ("data.task", args.task),
                             ("train.batch_size", args.batch_size), ("train.seed", args.seed),
                             ("data.strict", True if args.strict else None)):
            if value is not None:
                cfg.set(field, value)
        cfg.apply_overrides(args.overrides)
        from genzoo.data import parse_spec
        parse_spec(cfg.data.dataset)  # fail before creating the run directory
        run = Path(args.out or f"runs/{cfg.recipe}-{cfg.data.dataset.replace(':', '-').replace('/', '_')}")
    if args.steps is not None:
        cfg.set("train.steps", args.steps)
    if args.precision is not None:
        cfg.set("train.precision", args.precision)
    if args.resume:
        (run / "config.yaml").write_text(cfg.to_yaml())
    train(cfg, run, resume=bool(args.resume), progress=not args.quiet)
    print(f"run: {run}   samples: {run / 'samples'}   progress: {run / 'progress.gif'}")
    return 0


def cmd_sample(args) -> int:
    import numpy as np
    import torch

    from genzoo import images
    from genzoo.data import to_uint8
    from genzoo.errors import GenzooError
    from genzoo.run import open_run

    if args.n < 1:
        raise GenzooError("--n must be at least 1")
    cfg, algo, meta = open_run(Path(args.run_dir))
    if cfg.family == "pix2pix":
        return _sample_pix2pix(args, cfg, algo, meta)
    if args.variations:
        raise GenzooError("--variations is for pix2pix runs")
    from genzoo.explore.latent import check_label, class_grid_latents, with_code
    nrow = None
    if args.grid_by_class:
        check_label(algo, 0)
        nrow = args.n if args.n != 64 else 10
        z = class_grid_latents(algo, nrow, args.seed)
    else:
        z = algo.sample_z(args.n, torch.Generator().manual_seed(args.seed))
        if args.label is not None:
            z = with_code(algo, z, args.label)
    x = torch.cat([algo.generate(zc) for zc in z.split(500)])
    if len(x.shape) != 4:
        pts = x.cpu().numpy()
        out = Path(args.npz or args.out or Path(args.run_dir) / "samples.png")
        if args.npz:
            np.savez(out, points=pts)
        else:
            from genzoo.data.toy import mode_centers
            centers = mode_centers(cfg.data.dataset.partition(":")[2])
            images.scatter_png(pts, out, None if centers is None else centers.numpy(),
                               title=f"{cfg.recipe} step {meta['step']}")
        print(f"wrote {args.n} samples to {out}")
        return 0
    u8 = to_uint8(x)
    if args.npz:
        np.savez(args.npz, images=u8.permute(0, 2, 3, 1).cpu().numpy())  # (N, H, W, C)
        out = args.npz
    else:
        out = Path(args.out or Path(args.run_dir) / "samples.png")
        images.save_grid(out, u8, nrow=nrow)
    print(f"wrote {len(u8)} samples from step {meta['step']} to {out}")
    return 0


def _sample_pix2pix(args, cfg, algo, meta) -> int:
    from genzoo.errors import GenzooError
    from genzoo.explore.translate import save_triplets, variations

    if args.label is not None or args.grid_by_class or args.npz:
        raise GenzooError("pix2pix runs take --n, --variations and --out")
    n = min(args.n, 64)
    if args.variations:
        out = Path(args.out or Path(args.run_dir) / "variations.png")
        d = variations(algo, cfg, min(n, 8), args.variations, out)
        print(f"wrote {d['n']} inputs x {d['k']} outputs (dropout on) to {out}\n"
              f"mean L1 between outputs for the same input: {d['within_input_l1']:.4f}; between outputs for "
              f"different inputs: {d['across_inputs_l1']:.4f} (ratio {d['ratio']:.3f})")
        return 0
    out = Path(args.out or Path(args.run_dir) / "samples.png")
    save_triplets(algo, cfg, n, out)
    print(f"wrote {n} condition | output | target triplets from step {meta['step']} to {out}")
    return 0


def cmd_translate(args) -> int:
    from genzoo.errors import GenzooError
    from genzoo.run import open_run
    from genzoo.explore.translate import translate_files

    cfg, algo, meta = open_run(Path(args.run_dir))
    if cfg.family != "pix2pix":
        raise GenzooError(f"{args.run_dir} is a '{cfg.recipe}' run; translate needs a pix2pix run")
    c_a, _, h, w = meta["data_shape"]
    paths = translate_files(algo, (c_a, h, w), args.inputs, Path(args.out), args.resize)
    print(f"translated {len(paths)} image(s) into {args.out}")
    return 0


def _run_classifier(cfg):
    """The run's evaluation classifier, or None when its dataset has none."""
    from genzoo.metrics.classifier import extractor_key, load_classifier
    from genzoo.errors import GenzooError
    try:
        return load_classifier(extractor_key(cfg.data.dataset))[0]
    except GenzooError:
        return None


def cmd_latents(args) -> int:
    from genzoo.explore.arithmetic import latents_dir, save_set, set_from_class, set_from_seeds
    from genzoo.errors import GenzooError
    from genzoo.run import open_run

    run = Path(args.run_dir)
    if args.latents_command == "list":
        if not run.is_dir():
            raise GenzooError(f"{run}: no such run directory")
        for p in sorted(latents_dir(run).glob("*.json")):
            import json
            d = json.loads(p.read_text())
            how = f"seeds {d['seeds']}" if "seeds" in d else f"class {d['label']} ({d['count']} samples)"
            print(f"  {p.stem:<20} {how}")
        return 0
    cfg, algo, _ = open_run(run)
    if args.seeds:
        from genzoo.explore.arithmetic import check_name
        check_name(args.name)
        seeds = _int_list(args.seeds, "--seeds")
        path = save_set(run, args.name, set_from_seeds(algo, seeds), {"seeds": seeds})
        print(f"saved the mean latent of {len(seeds)} seed(s) as '{args.name}' ({path})")
        return 0
    if args.n < 1:
        raise GenzooError("--n must be at least 1")
    vec, count = set_from_class(algo, args.label, args.n, _run_classifier(cfg) if not getattr(algo, "code_classes", 0)
                                else None)
    path = save_set(run, args.name, vec, {"label": args.label, "count": count})
    print(f"saved the mean latent of {count} class-{args.label} sample(s) as '{args.name}' ({path})")
    return 0


def cmd_arithmetic(args) -> int:
    import torch

    from genzoo import images
    from genzoo.explore.arithmetic import combine, load_set, parse_expression, renorm, variations
    from genzoo.data import to_uint8
    from genzoo.errors import GenzooError
    from genzoo.metrics.features import extract
    from genzoo.run import open_run

    if args.variations < 1:
        raise GenzooError("--variations must be at least 1")
    terms = parse_expression(args.expression)
    cfg, algo, _ = open_run(Path(args.run_dir))
    dim = algo.sample_z(1, torch.Generator().manual_seed(0)).shape[1]
    vecs = [(sign, load_set(Path(args.run_dir), name, dim)) for sign, name in terms]
    latents = torch.cat([torch.stack([v for _, v in vecs]), variations(combine(vecs), args.variations, algo.z_dim)])
    if args.renorm and getattr(algo, "z_dist", "normal") == "normal":
        latents = renorm(latents, algo.z_dim, getattr(algo, "z_scale", 1.0))
    x = to_uint8(algo.generate(latents)).cpu()
    out = Path(args.out or Path(args.run_dir) / "arithmetic.png")
    images.save_grid(out, x, nrow=len(x))
    print(f"wrote {out}: {', '.join(n for _, n in terms)} decoded, then {args.expression} and "
          f"{args.variations - 1} variation(s)")
    net = _run_classifier(cfg)
    if net is not None and x.shape[1] == net.in_shape[0]:
        pred = extract(net, x).probs.argmax(1)
        names = cfg.data.dataset
        print(f"classes by the {names} classifier: terms {pred[:len(terms)].tolist()}, "
              f"results {pred[len(terms):].tolist()}")
    return 0


def cmd_list(args) -> int:
    from genzoo.config import list_recipes
    from genzoo.data import DATASET_HELP

    print("recipes:")
    for name, desc in list_recipes().items():
        print(f"  {name:<16} {desc}")
    print("datasets:")
    for spec, desc in DATASET_HELP.items():
        print(f"  {spec:<16} {desc}")
    return 0


def cmd_evaluate(args) -> int:
    from genzoo.errors import GenzooError
    from genzoo.evaluation.core import evaluate_real, evaluate_run, format_table

    if bool(args.real) == bool(args.run_dir):
        raise GenzooError("give either RUN_DIR or --real DATASET")
    inception = args.inception_weights or args.inception
    if args.real:
        from genzoo.data import parse_spec
        parse_spec(args.real)
        out = Path(args.out) if args.out else None
        if out:
            out.mkdir(parents=True, exist_ok=True)
        result = evaluate_real(args.real, args.data_root, args.n, args.metrics, out, inception, progress=True)
        print(format_table(result))
        if out:
            print(f"wrote {out / 'metrics.json'}")
        return 0
    result = evaluate_run(Path(args.run_dir), n=args.n, seed=args.seed, metrics=args.metrics, k=args.k,
                          progress=True, inception=inception)
    print(format_table(result))
    print(f"wrote {Path(args.run_dir) / 'metrics.json'}")
    return 0


def cmd_classifier(args) -> int:
    from genzoo.metrics.classifier import train_classifier
    from genzoo.data import parse_spec

    parse_spec(args.dataset)
    path, acc = train_classifier(args.dataset, args.data_root, args.epochs, args.seed,
                                 Path(args.out) if args.out else None, progress=not args.quiet)
    print(f"test accuracy {100 * acc:.2f}% on {args.dataset}; weights: {path}")
    return 0


def cmd_inception(args) -> int:
    from genzoo.errors import GenzooError
    from genzoo.metrics.inception import MISSING, convert_weights, find_weights

    if args.action == "where":
        path = find_weights()
        print(path if path else MISSING)
        return 0 if path else 1
    dst = Path(args.dst)
    if dst.suffix != ".safetensors":
        raise GenzooError(f"{dst}: the output must end in .safetensors")
    n = convert_weights(find_weights(args.src), dst)
    print(f"wrote {n} tensors to {dst}")
    return 0


def _int_list(text: str, flag: str) -> list[int]:
    from genzoo.errors import GenzooError

    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise GenzooError(f"{flag} expects comma-separated integers, got '{text}'") from None


def cmd_interpolate(args) -> int:
    from genzoo.errors import GenzooError
    from genzoo.explore.latent import encoded_latents, render_interpolation, seeded_latents
    from genzoo.run import open_run

    if args.seeds and args.images:
        raise GenzooError("give --seeds (points drawn from the prior) or --images (encoded test images), not both")
    out = Path(args.out or Path(args.run_dir) / "interpolation.png")
    cfg, algo, _ = open_run(Path(args.run_dir))
    if args.images or (hasattr(algo, "encode") and not args.seeds):
        from genzoo.training.build import dataset_for
        points = encoded_latents(algo, dataset_for(cfg, "test"), _int_list(args.images or "0,1", "--images"))
    else:
        points = seeded_latents(_int_list(args.seeds or "0,1", "--seeds"), algo.sample_z)
    render_interpolation(algo, points, args.steps, args.method, out)
    print(f"wrote {len(points) - 1} {args.method} path(s) of {args.steps} steps to {out}")
    return 0


def cmd_theory(args) -> int:
    from genzoo.studies.theory import EXPERIMENTS

    out = Path(args.out or f"theory-{args.name}.png")
    numbers = EXPERIMENTS[args.name](out)
    for k, v in numbers.items():
        print(f"  {k:<38} {v:.6g}" if isinstance(v, float) else f"  {k:<38} {v}")
    print(f"wrote {out}")
    return 0


def cmd_traverse(args) -> int:
    from genzoo import images
    from genzoo.data import to_uint8
    from genzoo.errors import GenzooError
    from genzoo.explore.latent import traversal_latents
    from genzoo.run import open_run

    if args.steps < 2:
        raise GenzooError("--steps must be at least 2")
    _, algo, meta = open_run(Path(args.run_dir))
    z = traversal_latents(algo, args.code, args.steps, args.seed, args.span)
    u8 = to_uint8(algo.generate(z))
    out = Path(args.out or Path(args.run_dir) / f"traverse_code{args.code}.png")
    images.save_grid(out, u8, nrow=args.steps)
    print(f"wrote a {algo.info_cat} x {args.steps} traversal of continuous code {args.code} "
          f"(step {meta['step']}) to {out}")
    return 0


def cmd_diagnose(args) -> int:
    from genzoo.training import watch as diagnostics

    run = Path(args.run)
    rows, events = diagnostics.read_log(run / "log.jsonl")
    if not rows:
        from genzoo.errors import GenzooError
        raise GenzooError(f"{run}/log.jsonl holds no training steps yet")
    print(diagnostics.summarise(rows, events))
    out = Path(args.out) if args.out else run / "diagnostics.png"
    diagnostics.plot(rows, events, out, title=f"genzoo diagnose {run.name}")
    print(f"wrote {out}")
    return 0


def cmd_experiment(args) -> int:
    from genzoo.studies.experiments import report, signal_report, wgan_signal, zdim

    if args.name == "wgan-signal":
        recipes = [r for r in args.recipes.split(",") if r]
        result = wgan_signal(recipes, args.steps, args.dataset, Path(args.out), args.data_root, args.seed, args.n,
                             progress=not args.quiet)
        print(signal_report(result))
        print(f"wrote {Path(args.out) / 'wgan_signal.png'}, wgan_signal.json")
        return 0
    result = zdim(_int_list(args.dims, "--dims"), args.steps, args.dataset, Path(args.out), args.data_root, args.seed, args.n,
                  progress=not args.quiet)
    print(report(result))
    print(f"wrote {Path(args.out) / 'zdim_modes.png'}, zdim.md, zdim.json")
    return 0


def cmd_invert(args) -> int:
    import torch

    from genzoo import images
    from genzoo.training.build import dataset_for
    from genzoo.metrics.classifier import extractor_key, load_classifier
    from genzoo.data import to_float, to_uint8
    from genzoo.errors import GenzooError
    from genzoo.explore.invert import invert_encoder, invert_optimize, load_images, train_encoder
    from genzoo.run import open_run

    if bool(args.images) == bool(args.test):
        raise GenzooError("give image files or --test N")
    cfg, algo, meta = open_run(Path(args.run_dir))
    shape = tuple(meta["data_shape"])
    if len(shape) != 3 or not hasattr(algo, "G"):
        raise GenzooError(f"{args.run_dir}: inversion needs a GAN run on images")
    x_u8 = load_images(args.images, shape) if args.images else dataset_for(cfg, "test").x[:args.test]
    x = to_float(x_u8)
    G = (algo.ema.net if algo.ema else algo.G).cpu().float()
    torch.manual_seed(0)
    if args.encoder:
        z, err = invert_encoder(G, train_encoder(G, algo.z_dim, shape, steps=args.encoder_steps), x)
    else:
        try:
            clf = load_classifier(extractor_key(cfg.data.dataset))[0]
        except GenzooError:
            clf = None  # no classifier for this data: pixel loss only
        z, err = invert_optimize(G, x, algo.z_dim, clf, steps=args.steps, restarts=args.restarts)
    with torch.no_grad():
        recon = to_uint8(G(z))
    out = Path(args.out or Path(args.run_dir) / "inversion.png")
    images.save_grid(out, torch.cat([x_u8, recon]), nrow=len(x_u8))
    method = "encoder" if args.encoder else f"optimisation ({args.restarts} restarts x {args.steps} steps)"
    print(f"{method}: pixel MSE in [-1, 1] units, mean {err.mean():.4f} (min {err.min():.4f}, max {err.max():.4f}) "
          f"over {len(x)} images; wrote {out}")
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "evaluate": cmd_evaluate, "classifier": cmd_classifier,
            "inception": cmd_inception,
            "interpolate": cmd_interpolate, "theory": cmd_theory, "diagnose": cmd_diagnose, "traverse": cmd_traverse,
            "experiment": cmd_experiment, "invert": cmd_invert, "translate": cmd_translate,
            "latents": cmd_latents, "arithmetic": cmd_arithmetic,
            "list": cmd_list}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from genzoo.errors import GenzooError
    from genzoo.training.loop import Interrupted

    warnings.formatwarning = lambda msg, cat, *a, **k: f"genzoo: warning: {msg}\n"
    try:
        return COMMANDS[args.command](args)
    except Interrupted as e:
        print(f"genzoo: {e}", file=sys.stderr)
        return 130
    except GenzooError as e:
        print(f"genzoo: error: {e}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("genzoo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
