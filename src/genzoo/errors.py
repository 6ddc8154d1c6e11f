"""User-facing errors: the CLI prints these as one line and exits with code 2."""
import os
import sys
from contextlib import contextmanager

EXIT_USER = 2
EXIT_INTERRUPTED = 130


class GenzooError(Exception):
    """Something the user can fix (bad name, missing file, corrupt data). Never a bug."""


class Interrupted(GenzooError):
    """Training stopped by a signal after saving a checkpoint (exit code 130, not 2)."""


def at_least_1(**flags: int | None) -> None:
    """One line for the first count below 1 (None: not given); keyword names are the flags, e.g. threads=0."""
    for name, value in flags.items():
        if value is not None and value < 1:
            raise GenzooError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def exit_code_for(e: BaseException) -> int | None:
    """Report ``e`` the way genzoo does, one line on stderr, and return the exit code; None for a bug (or an
    exit already decided), which the caller re-raises with its traceback. Shared by the CLI and the scripts."""
    from genzoo.io import one_line, os_error_message  # genzoo.io imports this module

    if isinstance(e, Interrupted):
        sys.stderr.write(f"genzoo: {one_line(e)}\n")
        return EXIT_INTERRUPTED
    if isinstance(e, GenzooError):
        sys.stderr.write(f"genzoo: error: {one_line(e)}\n")  # one write: ranks sharing a pipe do not interleave
        sys.stderr.flush()
        return EXIT_USER
    if isinstance(e, KeyboardInterrupt):
        sys.stderr.write("genzoo: interrupted\n")
        return EXIT_INTERRUPTED
    if isinstance(e, BrokenPipeError):  # the reader went away (`| head`): say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if isinstance(e, OSError):  # permissions, read-only, not a directory, exists, no space: the user's to fix
        sys.stderr.write(f"genzoo: error: {os_error_message(e)}\n")
        return EXIT_USER
    if isinstance(e, MemoryError):
        sys.stderr.write("genzoo: error: not enough memory; lower train.batch_size, the model widths or the sample "
                         "count (-n) and run the command again\n")
        return EXIT_USER
    if isinstance(e, RecursionError):
        sys.stderr.write("genzoo: error: an input file is nested too deeply to read (a damaged or hostile file); "
                         "check the files named on the command line\n")
        return EXIT_USER
    return None


@contextmanager
def exit_on_user_error():
    """For scripts outside the CLI (the benchmarks): a user error ends the script the way the CLI ends it
    (``exit_code_for``); anything else is a bug and keeps its traceback."""
    try:
        yield
    except BaseException as e:
        code = exit_code_for(e)
        if code is None:
            raise
        sys.exit(code)
