"""What several command modules share: the --device flag, opening a run, integer lists, count checks."""
from __future__ import annotations

import argparse

DEVICE_HELP = "where the model runs: auto (a GPU when there is one), cpu, cuda, cuda:N or mps (default: the run's)"


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", metavar="DEVICE", help=DEVICE_HELP)


def add_nproc(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--nproc", type=int, metavar="N",
                   help=f"{what} with N processes on this machine (one per GPU; gloo on the CPU), the same as "
                        f"`torchrun --nproc_per_node N -m genzoo {p.prog.split()[-1]} ...`: each generates its "
                        "share of the samples; the result equals one process's")


def relaunch(args, command: str, positional: tuple[str, ...], options: tuple[str, ...],
             switches: tuple[str, ...] = ()) -> int:
    """``--nproc N``: this command line again, without --nproc, in N processes (``distributed.launch``)."""
    from genzoo.training.launcher import launch

    argv = [command] + [str(getattr(args, k)) for k in positional if getattr(args, k, None) is not None]
    for k in options:
        if getattr(args, k, None) is not None:
            argv += ["--" + k.replace("_", "-"), str(getattr(args, k))]
    argv += ["--" + k.replace("_", "-") for k in switches if getattr(args, k, False)]
    return launch(args.nproc, argv, getattr(args, "device", None) or "auto")


def open_run(args):
    """The Run named by RUN_DIR, on --device when given."""
    from genzoo.run import Run

    return Run.open(args.run_dir, getattr(args, "device", None))


def int_list(text: str, flag: str) -> list[int]:
    from genzoo.errors import GenzooError

    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise GenzooError(f"{flag} expects comma-separated integers, got '{text}'") from None


def float_list(text: str, flag: str) -> list[float]:
    from genzoo.errors import GenzooError

    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise GenzooError(f"{flag} expects comma-separated numbers, got '{text}'") from None
