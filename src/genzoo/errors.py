"""User-facing errors: the CLI prints these as one line and exits with code 2."""
import sys
from contextlib import contextmanager


class GenzooError(Exception):
    """Something the user can fix (bad name, missing file, corrupt data). Never a bug."""


class Interrupted(GenzooError):
    """Training stopped by a signal after saving a checkpoint (exit code 130, not 2)."""


@contextmanager
def exit_on_user_error():
    """For scripts outside the CLI (the benchmarks): a GenzooError ends the script the way the CLI does, with
    ``genzoo: error: ...`` on one line and exit code 2 (an interrupted run: its line and 130); anything else is a
    bug and keeps its traceback."""
    from genzoo.io import one_line  # genzoo.io imports this module
    try:
        yield
    except Interrupted as e:
        sys.stderr.write(f"genzoo: {one_line(e)}\n")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.stderr.write("genzoo: interrupted\n")
        sys.exit(130)
    except GenzooError as e:
        sys.stderr.write(f"genzoo: error: {one_line(e)}\n")
        sys.exit(2)
