"""The genzoo command line: one module per command group, each parser beside its handler.

The CLI only parses and calls the Python API (``genzoo.train``, ``Run``, ``genzoo.evaluate`` and the tools
under ``genzoo.explore``/``studies``). User errors become one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from genzoo.cli import attack, diagnose, evaluate, explore, report, sample, studies, train

EXIT_USER = 2
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
    from genzoo.errors import GenzooError, Interrupted
    from genzoo.io import one_line, os_error_message

    from genzoo.report.command import ARGV  # RUN/command.json records how a run was made
    argv_token = ARGV.set(["genzoo", *(sys.argv[1:] if argv is None else argv)])
    warnings.formatwarning = lambda msg, cat, *a, **k: f"genzoo: warning: {msg}\n"
    try:
        _check_seeds(args)
        return args.func(args)
    except Interrupted as e:
        print(f"genzoo: {e}", file=sys.stderr)
        return 130
    except GenzooError as e:
        sys.stderr.write(f"genzoo: error: {one_line(e)}\n")  # one write: ranks sharing a pipe do not interleave
        sys.stderr.flush()
        return EXIT_USER
    except KeyboardInterrupt:
        print("genzoo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # permissions, read-only, not a directory, exists, no space: the user's to fix
        print(f"genzoo: error: {os_error_message(e)}", file=sys.stderr)
        return EXIT_USER
    except MemoryError:
        print("genzoo: error: not enough memory; lower train.batch_size, the model widths or the sample count "
              "(-n) and run the command again", file=sys.stderr)
        return EXIT_USER
    except RecursionError:
        print("genzoo: error: an input file is nested too deeply to read (a damaged or hostile file); "
              "check the files named on the command line", file=sys.stderr)
        return EXIT_USER
    finally:
        ARGV.reset(argv_token)


if __name__ == "__main__":
    raise SystemExit(main())
