"""The genzoo command line: one module per command group, each parser beside its handler.

The CLI only parses and calls the Python API (``genzoo.train``, ``Run``, ``genzoo.evaluate`` and the tools
under ``genzoo.explore``/``studies``). User errors become one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from genzoo.cli import attack, diagnose, evaluate, explore, report, sample, studies, train
from genzoo.errors import EXIT_USER

GROUPS = (train, sample, evaluate, explore, diagnose, studies, report, attack)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`genzoo: error: ...; see genzoo CMD --help`) and exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_USER, f"genzoo: error: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    from genzoo import __version__

    ap = Parser(prog="genzoo", description="Classic generative models of images: train, sample, evaluate. "
                "Run `genzoo COMMAND --help` for details.")
    ap.add_argument("--version", action="version", version=f"genzoo {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for group in GROUPS:
        group.add(sub)
    order = ["train", "sample", "evaluate", "classifier", "inception", "interpolate", "theory", "diagnose",
             "traverse", "experiment", "invert", "translate", "latents", "arithmetic", "list",
             "report", "compare", "attack", "robustness"]
    sub._choices_actions.sort(key=lambda a: order.index(a.dest) if a.dest in order else len(order))
    return ap


def _check_seeds(args) -> None:
    """Every --seed / --seeds of every command: whole numbers in [0, 2**63)."""
    from genzoo.config_values import check_seed

    if getattr(args, "seed", None) is not None:
        check_seed(args.seed)
    if isinstance(getattr(args, "seeds", None), str):
        for part in args.seeds.split(","):
            try:
                value = int(part)
            except ValueError:
                continue  # the command's own parsing names a malformed list
            check_seed(value, "--seeds")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from genzoo.errors import exit_code_for
    from genzoo.report.command import ARGV  # RUN/command.json records how a run was made
    argv_token = ARGV.set(["genzoo", *(sys.argv[1:] if argv is None else argv)])
    warnings.formatwarning = lambda msg, cat, *a, **k: f"genzoo: warning: {msg}\n"
    try:
        _check_seeds(args)
        return args.func(args)
    except BaseException as e:  # user errors and interrupts: one line and an exit code; bugs: their traceback
        code = exit_code_for(e)
        if code is None:
            raise
        return code
    finally:
        ARGV.reset(argv_token)


if __name__ == "__main__":
    raise SystemExit(main())
