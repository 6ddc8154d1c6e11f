"""`genzoo sample` and `genzoo translate`: generate from a trained run."""
from __future__ import annotations

import argparse
from pathlib import Path

from genzoo.cli.common import add_device, add_nproc, open_run, relaunch


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="generate images from a trained run",
                       description="Generate N samples from a run's latest checkpoint and write a PNG grid "
                                   "(default RUN_DIR/samples.png) or an .npz of uint8 images (N, H, W, C). "
                                   "For pix2pix runs: condition | output | target triplets on the first N test "
                                   "pairs (at most 64).")
    p.add_argument("run_dir")
    p.add_argument("--n", "--samples", dest="n", type=int, default=64,
                   help="number of samples (default 64); under torchrun write --samples (its own parser takes "
                        "--n for one of its options)")
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


def cmd_sample(args) -> int:
    from genzoo.explore.sampling import sample_pix2pix, write_samples
    from genzoo.training import distributed

    if args.nproc is not None:
        return relaunch(args, "sample", ("run_dir",), ("n", "seed", "label", "variations", "out", "npz", "device"),
                        ("grid_by_class",))
    run = open_run(args)
    if run.family == "pix2pix":
        if distributed.is_main_process():  # under torchrun: rank 0 alone
            print(sample_pix2pix(run, args.n, args.variations, args.out,
                                 other=args.label is not None or args.grid_by_class or bool(args.npz)))
        return 0
    with distributed.joined(args.device or run.cfg.train.device) as d:  # under torchrun: a share per rank
        if d.device is not None and d.device.type == "cuda":
            run.device = str(d.device)
        line = write_samples(run, args.n, args.seed, args.label, args.grid_by_class, args.out, args.npz,
                             args.variations, dist=d)
    if distributed.is_main_process():
        print(line)
    return 0


def cmd_translate(args) -> int:
    from genzoo.errors import GenzooError
    from genzoo.explore.translate import translate_files

    run = open_run(args)
    if run.family != "pix2pix":
        raise GenzooError(f"{args.run_dir} is a '{run.cfg.recipe}' run; translate needs a pix2pix run")
    c_a, _, h, w = run.data_shape
    paths = translate_files(run.algo, (c_a, h, w), args.inputs, Path(args.out), args.resize)
    print(f"translated {len(paths)} image(s) into {args.out}")
    return 0


def add(sub) -> None:
    _add_sample(sub)
    _add_translate(sub)
    sub.choices["sample"].set_defaults(func=cmd_sample)
    sub.choices["translate"].set_defaults(func=cmd_translate)
    add_device(sub.choices["sample"])
    add_nproc(sub.choices["sample"], "generate")
    add_device(sub.choices["translate"])
