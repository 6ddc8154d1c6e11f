"""RUN/command.json: how a run was made, one record per `genzoo train` and per resume.

Each record: the command line (argv, when run from the CLI) or the Python call (``genzoo.train(...)``), the
time, genzoo / torch / Python versions, the device and precision the run actually resolved, the process count,
and the git commit of genzoo's source when it is a checkout. The report's header shows them.
"""
from __future__ import annotations

import contextvars
import json
import platform
import shlex
import subprocess
import time
from pathlib import Path

from genzoo.io import atomic_write_bytes

FILE = "command.json"
# the CLI sets this to its argv; the Python API leaves it unset and records its call instead
ARGV: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("genzoo_argv", default=None)


def git_commit(path: Path) -> str | None:
    """The commit of the git checkout holding ``path``, if any (with '+dirty' for local changes)."""
    try:
        sha = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "-uno"], capture_output=True,
                               text=True, timeout=5).stdout.strip()
        return sha.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def python_call(recipe, out, resume, overrides, settings: dict) -> str:
    """``genzoo.train(...)`` as it was called (a Config given as recipe shows as its recipe name)."""
    args = []
    if recipe is not None:
        args.append(repr(recipe) if isinstance(recipe, str) else f"<Config {getattr(recipe, 'recipe', '?')}>")
    for k, v in (("out", out), ("resume", resume), ("overrides", overrides or None), *settings.items()):
        if v is not None:
            args.append(f"{k}={str(v)!r}" if isinstance(v, Path) else f"{k}={v!r}")
    return f"genzoo.train({', '.join(args)})"


def record(run: Path, info: dict, call: str | None = None, resumed: bool = False) -> None:
    """Append this session's record to RUN/command.json (written atomically)."""
    import torch
    import genzoo

    argv = ARGV.get()
    rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "mode": "resume" if resumed else "train",
           "start_step": info.get("step", 0),
           "argv": argv, "command": shlex.join(argv) if argv is not None else call,
           "genzoo": genzoo.__version__, "torch": torch.__version__, "python": platform.python_version(),
           "device": info.get("device"), "precision": info.get("precision"), "world_size": info.get("world_size", 1),
           "git_commit": git_commit(Path(genzoo.__file__).parent), "cwd": str(Path.cwd())}
    atomic_write_bytes(run / FILE, json.dumps(read(run) + [rec], indent=1).encode())


def read(run: Path) -> list[dict]:
    """The records of RUN/command.json, oldest first; [] when there is none or it is damaged."""
    try:
        recs = json.loads((Path(run) / FILE).read_text())
    except (OSError, ValueError):
        return []
    return [r for r in recs if isinstance(r, dict)] if isinstance(recs, list) else []
