"""`genzoo train` and `genzoo list`."""
from __future__ import annotations

import argparse
from pathlib import Path

from genzoo.cli.common import add_device


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a recipe and write a run directory",
                       description="Train a model from a recipe. Writes config.yaml, log.jsonl, samples/, "
                                   "checkpoints/ and progress.gif into the run directory.",
                       epilog="examples:\n  genzoo train dcgan --dataset mnist --data-root ../shared/data --steps 3000\n"
                              "  genzoo train dcgan --set model.z_dim=10 --set train.sample_every=100\n"
                              "  genzoo train --resume runs/dcgan-mnist --steps 5000\n"
                              "  genzoo train --recipe-file my-gan.yaml --dataset mnist\n"
                              "  genzoo train vae --dataset mnist --steps 20000\n"
                              "  genzoo train pix2pix --task gray2color --dataset cifar10\n"
                              "  genzoo train pix2pix --task edges --dataset fashion-mnist --set loss.mode=l1\n"
                              "  genzoo train pix2pix --task ab --dataset folder:~/facades --set data.direction=BtoA",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", nargs="?", help="recipe name (see `genzoo list`); omit with --resume")
    p.add_argument("--recipe-file", metavar="PATH",
                   help="a recipe YAML of your own (same keys as a run's config.yaml) instead of a recipe name")
    p.add_argument("--dataset", help="dataset spec: embedded (default), mnist, fashion-mnist, folder:PATH, toy:ring8, ...")
    p.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    p.add_argument("--steps", type=int, help="number of generator steps (total, also when resuming)")
    p.add_argument("--minutes", type=float,
                   help="also stop after this many minutes of training (this session's wall time), with a checkpoint")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--out", help="run directory (default: runs/RECIPE-DATASET)")
    p.add_argument("--seed", type=int, help="seed for initialisation, noise and data order")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                   help="auto: bf16 autocast where the CPU/GPU supports it natively, fp16 on older CUDA GPUs; "
                        "fp16 trains with a gradient scaler per optimizer")
    p.add_argument("--strict", action="store_true", help="folder datasets: fail on unreadable images instead of skipping")
    p.add_argument("--task", choices=["gray2color", "edges", "downsample", "mask", "ab", "folders"],
                   help="pix2pix: how pairs are made (data.task): built from the dataset (gray2color, edges, "
                        "downsample, mask) or read from AB files / A and B folders")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set model.z_dim=10 (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run exactly from its latest checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="train with N processes on this machine (one per GPU; gloo on the CPU): the same as "
                        "`torchrun --nproc_per_node N -m genzoo train ...`; train.batch_size is the global batch")


def _argv(args) -> list[str]:
    """This command line again, without --nproc (what each process of a --nproc launch runs)."""
    argv = ["train"] + ([args.recipe] if args.recipe else [])
    for flag in ("recipe_file", "dataset", "data_root", "steps", "minutes", "batch_size", "out", "seed", "precision", "task",
                 "resume", "device"):
        value = getattr(args, flag, None)
        if value is not None:
            argv += ["--" + flag.replace("_", "-"), str(value)]
    for o in args.overrides:
        argv += ["--set", o]
    return argv + ["--strict"] * bool(args.strict) + ["--quiet"] * bool(args.quiet)


def _check_split(args) -> None:
    """--nproc: a global batch that does not split over N processes is one line here, not one per process."""
    from genzoo.api import make_config
    from genzoo.config_files import load_config_file
    from genzoo.training.distributed import check_batch

    if args.nproc < 1:
        return  # launch says so
    if args.resume is not None:
        path = Path(args.resume) / "config.yaml"
        if not path.is_file():
            return  # the processes say so
        cfg = load_config_file(path)
    elif args.recipe is not None and args.recipe_file is None:
        cfg = make_config(args.recipe, args.overrides, dataset=args.dataset, batch_size=args.batch_size)
    else:
        return
    check_batch(cfg.train.batch_size, args.nproc, cfg.model.pack if cfg.family == "gan" else 1)


def cmd_train(args) -> int:
    import genzoo

    if args.nproc is not None:
        from genzoo.training.launcher import launch
        _check_split(args)
        return launch(args.nproc, _argv(args), args.device or "auto")

    settings = {"dataset": args.dataset, "data_root": args.data_root, "task": args.task,
                "batch_size": args.batch_size, "seed": args.seed, "strict": True if args.strict else None,
                "steps": args.steps, "minutes": args.minutes, "precision": args.precision, "device": args.device}
    recipe = args.recipe
    if args.recipe_file is not None:
        from genzoo.config_files import load_recipe_file
        from genzoo.errors import GenzooError
        if recipe is not None or args.resume is not None:
            raise GenzooError("--recipe-file replaces the recipe name and cannot be used with --resume; give one")
        recipe = load_recipe_file(args.recipe_file, args.dataset)
    run = genzoo.train(recipe, out=args.out, resume=args.resume, overrides=args.overrides,
                       progress=not args.quiet, **settings)
    from genzoo.training.distributed import is_main_process
    if is_main_process():  # under torchrun, one line for the job, not one per rank
        print(f"run: {run.path}   samples: {run.path / 'samples'}   progress: {run.path / 'progress.gif'}")
    return 0


def cmd_list(args) -> int:
    from genzoo.config_files import list_recipes
    from genzoo.data import DATASET_HELP

    print("recipes:")
    for name, desc in list_recipes().items():
        print(f"  {name:<16} {desc}")
    print("datasets:")
    for spec, desc in DATASET_HELP.items():
        print(f"  {spec:<16} {desc}")
    return 0


def add(sub) -> None:
    _add_train(sub)
    sub.add_parser("list", help="list recipes and dataset specs",
                   description="List recipes and dataset specs.").set_defaults(func=cmd_list)
    sub.choices["train"].set_defaults(func=cmd_train)
    add_device(sub.choices["train"])
