"""The latent tools: `genzoo interpolate`, `traverse`, `invert`, `latents` and `arithmetic`."""
from __future__ import annotations

import argparse
from pathlib import Path

from genzoo.cli.common import add_device, int_list, open_run


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
    add_device(s)
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


def cmd_interpolate(args) -> int:
    from genzoo.explore.latent import interpolate

    seeds = int_list(args.seeds, "--seeds") if args.seeds else None
    images = int_list(args.images, "--images") if args.images else None
    print(interpolate(open_run(args), seeds, images, args.steps, args.method, args.out))
    return 0


def cmd_traverse(args) -> int:
    from genzoo.explore.latent import traverse

    print(traverse(open_run(args), args.code, args.steps, args.seed, args.span, args.out))
    return 0


def cmd_invert(args) -> int:
    from genzoo.explore.invert import invert_to_file

    print(invert_to_file(open_run(args), args.images, args.test, args.encoder, args.steps, args.restarts,
                         args.encoder_steps, args.out, progress=True))
    return 0


def cmd_latents(args) -> int:
    from genzoo.explore.arithmetic import list_sets, save_latent_set

    if args.latents_command == "list":
        print("\n".join(list_sets(Path(args.run_dir))))
        return 0
    seeds = int_list(args.seeds, "--seeds") if args.seeds else None
    path, what = save_latent_set(open_run(args), args.name, seeds, args.label, args.n)
    print(f"saved {what} as '{args.name}' ({path})")
    return 0


def cmd_arithmetic(args) -> int:
    from genzoo.explore.arithmetic import arithmetic

    print(arithmetic(open_run(args), args.expression, args.variations, args.renorm, args.out))
    return 0


def add(sub) -> None:
    _add_interpolate(sub)
    _add_traverse(sub)
    _add_invert(sub)
    _add_latents(sub)
    _add_arithmetic(sub)
    sub.choices["interpolate"].set_defaults(func=cmd_interpolate)
    sub.choices["traverse"].set_defaults(func=cmd_traverse)
    sub.choices["invert"].set_defaults(func=cmd_invert)
    sub.choices["latents"].set_defaults(func=cmd_latents)
    sub.choices["arithmetic"].set_defaults(func=cmd_arithmetic)
    add_device(sub.choices["interpolate"])
    add_device(sub.choices["traverse"])
    add_device(sub.choices["invert"])
    add_device(sub.choices["arithmetic"])
