"""What several command modules share: the --device flag, opening a run, integer lists."""
from __future__ import annotations

import argparse

DEVICE_HELP = "where the model runs: auto (a GPU when there is one), cpu, cuda, cuda:N or mps (default: the run's)"


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", metavar="DEVICE", help=DEVICE_HELP)


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
