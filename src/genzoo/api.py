"""The Python API's entry point for training: ``genzoo.train(recipe, ...) -> Run``.

The CLI's `genzoo train` is a thin call into ``train`` below, so a notebook and the command line
build the same config, validate it the same way and write the same run directory.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from genzoo.config import Config
from genzoo.config_files import load_config_file, load_recipe
from genzoo.errors import GenzooError
from genzoo.io import atomic_write_bytes
from genzoo.run import Run
from genzoo.training.checkpoint import RESUMABLE_KEYS

# keyword argument -> config key, for the settings people change most
SHORTCUTS = {"dataset": "data.dataset", "data_root": "data.root", "task": "data.task", "strict": "data.strict",
             "steps": "train.steps", "minutes": "train.minutes", "batch_size": "train.batch_size", "seed": "train.seed",
             "precision": "train.precision", "device": "train.device"}
# what may change when a run is continued (data_root: where the dataset's files are, for a run moved elsewhere)
RESUMABLE = tuple(k for k, key in SHORTCUTS.items() if key in RESUMABLE_KEYS)


def default_out(cfg: Config) -> Path:
    return Path(f"runs/{cfg.recipe}-{cfg.data.dataset.replace(':', '-').replace('/', '_')}")


def check_run_dir(run_dir: Path) -> None:
    """A run directory that cannot be one fails before any work: an existing file, or a file on its path."""
    for p in (run_dir, *run_dir.parents):
        if p.exists() and not p.is_dir():
            what = "--out" if p == run_dir else f"--out {run_dir}: its parent"
            raise GenzooError(f"{what} {p} is an existing file, not a folder; choose a new or existing run "
                              "directory (e.g. --out runs/NAME)")


def make_config(recipe: str | Config, overrides: dict[str, Any] | list[str] | None = None, **settings) -> Config:
    """A recipe's config (a name from ``list_recipes()`` or a Config) with ``settings`` (see SHORTCUTS) and
    ``overrides`` ({"model.z_dim": 10} or ["model.z_dim=10"], as --set) applied and checked."""
    cfg = recipe if isinstance(recipe, Config) else load_recipe(recipe, settings.pop("dataset", None))
    for name, value in settings.items():
        if name not in SHORTCUTS:
            raise GenzooError(f"unknown setting '{name}'; valid: {', '.join(SHORTCUTS)} (others go in overrides=)")
        if value is not None:
            cfg.set(SHORTCUTS[name], value)
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            cfg.set(key, value)
    else:
        cfg.apply_overrides(list(overrides or []))
    return cfg


def train(recipe: str | Config | None = None, *, out: str | Path | None = None, resume: str | Path | None = None,
          overrides: dict[str, Any] | list[str] | None = None, progress: bool = True, **settings) -> Run:
    """Train a recipe (or continue a run with ``resume=RUN_DIR``) and return the ``Run``.

    ``settings``: dataset, data_root, task, strict, steps, minutes, batch_size, seed, precision, device.
    ``overrides``: any other config key, e.g. {"model.z_dim": 10}.
    """
    from genzoo.algos.base import resolve_device
    from genzoo.data import parse_spec
    from genzoo.training.loop import train as train_loop

    if resume is not None:
        run_dir = Path(resume)
        if not run_dir.is_dir():
            raise GenzooError(f"--resume {run_dir}: no such run directory; give the --out folder of an earlier "
                              "`genzoo train`")
        cfg = load_config_file(run_dir / "config.yaml")
        if recipe is not None and recipe != cfg.recipe:
            raise GenzooError(f"{run_dir} is a '{cfg.recipe}' run; drop the recipe name when resuming")
        fixed = [k for k, v in settings.items() if v is not None and k not in RESUMABLE]
        if fixed or out is not None or overrides:
            raise GenzooError("when resuming only --steps, --minutes, --precision, --device, --data-root and --quiet may change; got "
                              + ", ".join(fixed + ["--out"] * (out is not None) + ["--set"] * bool(overrides)))
        from genzoo.training.fits import verify_resumable
        if verify_resumable(run_dir, cfg) is None:  # damaged, or from another run: one line before any work
            raise GenzooError(f"{run_dir}: nothing to resume (no checkpoints/step_*.json); start it again with "
                              f"`genzoo train {cfg.recipe} --out NEW_DIR`")
        for k in RESUMABLE:
            if settings.get(k) is not None:
                cfg.set(SHORTCUTS[k], settings[k])
    else:
        if recipe is None:
            raise GenzooError("name a recipe (see `genzoo list`) or pass --resume RUN_DIR")
        cfg = make_config(recipe, overrides, **settings)
        parse_spec(cfg.data.dataset)  # fail before creating the run directory
        run_dir = Path(out) if out is not None else default_out(cfg)
        check_run_dir(run_dir)
    resolve_device(cfg.train.device)  # a device that is not there fails before any work (config.yaml untouched)
    from genzoo.training.distributed import is_main_process
    changed = resume is not None and any(settings.get(k) is not None for k in RESUMABLE)
    from genzoo.report import command
    call = command.python_call(recipe, out, resume, overrides, settings)
    board = _tensorboard(cfg)
    try:
        train_loop(cfg, run_dir, resume=resume is not None, progress=progress,
                   on_checkpoint=_write_report if cfg.train.report else None,
                   on_start=lambda run, info: _started(run, info, call, resume is not None, board,
                                                       cfg if changed else None),
                   on_log=board.record if board else None)
    finally:
        if board:
            board.close()
    return Run.open(run_dir)


def _tensorboard(cfg: Config):
    """train.tensorboard: the event-file writer (opened when the run starts, rank 0 only); without the package,
    one line before any work."""
    if not cfg.train.tensorboard:
        return None
    from genzoo.report import tensorboard
    tensorboard.require()
    from genzoo.training.distributed import is_main_process
    return tensorboard.Board() if is_main_process() else None


def _started(run_dir: Path, info: dict, call: str, resumed: bool, board, changed: Config | None) -> None:
    """The loop's on_start (rank 0, once the data and the checkpoint have loaded): a resume's changed settings go
    to config.yaml (not before: a mistyped --data-root must not be kept); RUN/command.json gets this session's
    record; TensorBoard opens."""
    from genzoo.report import command
    if changed is not None:
        atomic_write_bytes(run_dir / "config.yaml", changed.to_yaml().encode())
    command.record(run_dir, info, call, resumed)
    if board:
        board.start(run_dir, info)


def _write_report(run_dir: Path) -> None:
    """report.html beside the run's files, at each checkpoint and at the end; a failure only warns."""
    from genzoo.report.html import write_quietly
    write_quietly(run_dir)
