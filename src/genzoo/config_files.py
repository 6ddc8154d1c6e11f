"""Config files in: the built-in recipes (by registry name only), a recipe YAML of your own
(``--recipe-file``), and a run's resolved config.yaml."""
from __future__ import annotations

import difflib
import re
from importlib import resources
from pathlib import Path

import yaml

from genzoo.config import Config
from genzoo.errors import GenzooError


def _recipe_dir():
    return resources.files("genzoo") / "recipes"


def list_recipes() -> dict[str, str]:
    """Recipe name -> one-line description."""
    out = {}
    for entry in sorted(_recipe_dir().iterdir(), key=lambda p: p.name.removesuffix(".yaml")):
        if entry.name.endswith(".yaml"):
            d = yaml.safe_load(entry.read_text()) or {}
            out[entry.name[:-5]] = str(d.get("description", "")).strip().splitlines()[0] if d.get("description") else ""
    return out


def load_recipe(name: str, dataset: str | None = None) -> Config:
    """A recipe's config. Its optional ``toy:`` block (settings for 2-D mixtures, such as a
    larger batch) is applied when the dataset, given here or in the recipe, is a toy mixture."""
    names = list_recipes()
    if not isinstance(name, str) or name not in names:  # a registry name, never joined into a path
        close = difflib.get_close_matches(str(name), list(names), n=1)
        raise GenzooError(f"unknown recipe {str(name)[:80]!r}; " + (f"did you mean {close[0]}? " if close else "")
                          + "valid recipes: " + ", ".join(names) + "; for your own YAML use --recipe-file PATH")
    raw = yaml.safe_load((_recipe_dir() / f"{name}.yaml").read_text()) or {}
    return _from_recipe(raw, name, f"recipe {name}", dataset)


def load_recipe_file(path: str | Path, dataset: str | None = None) -> Config:
    """A recipe from a YAML file of your own (``genzoo train --recipe-file PATH``): the same keys as a run's
    config.yaml or the built-in recipes; its name is the file's stem unless it sets ``recipe:``."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise GenzooError(f"--recipe-file {path}: expected a .yaml or .yml file")
    if path.is_file() and path.stat().st_size > 1 << 20:
        raise GenzooError(f"--recipe-file {path}: larger than 1 MB, not a recipe; give a recipe YAML")
    raw = _read_yaml(path, f"--recipe-file {path}", "no such file; check the path",
                     "is a folder; give a recipe YAML file",
                     "fix the file (see `genzoo list` for the built-in recipes to start from)")
    if not isinstance(raw, dict):
        raise GenzooError(f"--recipe-file {path}: expected a mapping of config keys at the top level")
    raw = dict(raw)
    name = str(raw.pop("recipe", None) or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}", name):
        raise GenzooError(f"--recipe-file {path}: recipe name {name[:80]!r} must be letters, digits, '-', '_' "
                          "or '.'; set `recipe: NAME` in the file or rename it")
    return _from_recipe(raw, str(name), f"--recipe-file {path}", dataset)


def _from_recipe(raw: dict, name: str, source: str, dataset: str | None) -> Config:
    toy = raw.pop("toy", None) or {}
    if not isinstance(toy, dict) or not all(isinstance(v, dict) for v in toy.values()):
        raise GenzooError(f"{source}: 'toy' must be a mapping of sections to settings")
    cfg = Config.from_dict(raw, source=source)
    cfg.recipe = name
    if dataset is not None:
        cfg.set("data.dataset", dataset)
    if cfg.data.dataset.startswith("toy:"):
        for section, values in toy.items():
            for key, value in values.items():
                cfg.set(f"{section}.{key}", value, source=f"{source} (toy)")
    return cfg


def load_config_file(path: Path) -> Config:
    d = _read_yaml(Path(path), str(path), "not found; is this a genzoo run directory?",
                   "is a folder, not a config file; is this a genzoo run directory?",
                   "restore it from a checkpoint's JSON ('config') or start a new run")
    return Config.from_dict(d or {}, source=str(path))


def _read_yaml(path: Path, name: str, missing: str, folder: str, advice: str):
    """safe_load of a YAML file (no code can run); each way it can fail is one line naming ``name``."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GenzooError(f"{name}: {missing}") from None
    except IsADirectoryError:
        raise GenzooError(f"{name}: {folder}") from None
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
        raise GenzooError(f"{name}: not valid YAML ({e.__class__.__name__}); {advice}") from None
