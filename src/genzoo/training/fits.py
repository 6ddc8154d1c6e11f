"""Does a checkpoint fit a model? The checks run before anything is loaded, so a damaged checkpoint or one from
another run is one line ("this checkpoint is damaged or belongs to another run: ...") and never a traceback."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genzoo.config import Config
from genzoo.errors import GenzooError
from genzoo.io import one_line
from genzoo.training.checkpoint import _bad, ckpt_dir, latest, load


def check_state(state: Any, algo, path: Path | str = "checkpoint") -> None:
    """The training state must hold every network and optimizer of ``algo`` with tensors of the right shapes,
    plus the sampler and RNG states, before anything is loaded into it."""
    p = Path(str(path))
    if not isinstance(state, dict) or not isinstance(state.get("algo"), dict):
        raise _bad(p, "no 'algo' state")
    nets, opts = state["algo"].get("nets"), state["algo"].get("opts")
    if not isinstance(nets, dict) or not isinstance(opts, dict):
        raise _bad(p, "no 'algo.nets' / 'algo.opts' state")
    for name, net in algo.nets.items():
        got = nets.get(name)
        if not isinstance(got, dict):
            raise _bad(p, f"no weights for network {name}")
        want = net.state_dict()
        if set(got) != set(want):
            extra = sorted(set(got) ^ set(want))[0]
            raise _bad(p, f"network {name} has other parameters than this run's ({extra})")
        for k, t in want.items():
            g = got[k]
            if not torch.is_tensor(g) or tuple(g.shape) != tuple(t.shape) or g.dtype != t.dtype:
                shape = tuple(g.shape) if torch.is_tensor(g) else type(g).__name__
                raise _bad(p, f"{name}.{k} is {shape}, this run's is {tuple(t.shape)}")
    for name, opt in algo.opts.items():
        got = opts.get(name)
        if not isinstance(got, dict) or not isinstance(got.get("param_groups"), list) \
                or not isinstance(got.get("state"), dict):
            raise _bad(p, f"no optimizer state for {name}")
        if len(got["param_groups"]) != len(opt.param_groups) or not all(
                isinstance(g, dict) and isinstance(g.get("params"), list) and len(g["params"]) == len(w["params"])
                for g, w in zip(got["param_groups"], opt.param_groups)):
            raise _bad(p, f"optimizer {name} has other parameter groups than this run's")
        params = [q for g in opt.param_groups for q in g["params"]]
        for idx, st in got["state"].items():
            if not isinstance(idx, int) or not 0 <= idx < len(params) or not isinstance(st, dict):
                raise _bad(p, f"optimizer {name} holds state for an unknown parameter {idx!r}")
            for k, v in st.items():
                if torch.is_tensor(v) and v.dim() > 0 and tuple(v.shape) != tuple(params[idx].shape):
                    raise _bad(p, f"optimizer {name} state {idx}.{k} is {tuple(v.shape)}, "
                                  f"the parameter is {tuple(params[idx].shape)}")
    if "sampler" in state:
        s = state["sampler"]
        if not isinstance(s, dict) or not torch.is_tensor(s.get("epoch_state")) or not isinstance(s.get("pos"), int):
            raise _bad(p, "the data sampler's state is malformed")
    if "rng" in state:
        r = state["rng"]
        ref = torch.get_rng_state()
        if not isinstance(r, dict) or not torch.is_tensor(r.get("torch")) or r["torch"].shape != ref.shape \
                or r["torch"].dtype != ref.dtype:
            raise _bad(p, "the random-number state is malformed")


def load_into(json_path: Path, algo, cfg: Config | None = None) -> tuple[dict, dict]:
    """``load`` with the checks a run needs (``check_belongs`` when ``cfg`` is given, ``check_state``),
    then the weights and optimizer moments loaded into ``algo``. Returns (state, meta)."""
    state, meta = load(json_path, expect=cfg)
    check_state(state, algo, json_path)
    try:
        algo.load_state_dict(state["algo"])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as e:
        raise _bad(Path(json_path), f"its state does not fit this model ({one_line(e)[:150]})") from None
    return state, meta


def verify_resumable(run: Path, cfg: Config) -> Path | None:
    """Before ``--resume``: the run's latest checkpoint is intact, belongs to the run of ``cfg`` (its
    config.yaml) and fits the model that config builds. Returns its path (None when there is none yet)."""
    from genzoo.training.build import build_algo

    path = latest(ckpt_dir(run))
    if path is None:
        return None
    state, meta = load(path, expect=cfg)
    ds = meta.get("data_shape")
    if ds is None:
        raise _bad(path, "it records no data_shape")
    size, ch = cfg.data.image_size, cfg.data.channels
    if len(ds) >= 3 and ((size is not None and ds[-1] != size) or (len(ds) == 3 and ch is not None and ds[0] != ch)):
        raise _bad(path, f"it was saved for data of shape {ds}, this run's config.yaml says "
                         f"{ch} channel(s) of {size}x{size}")
    with torch.random.fork_rng(devices=[]):  # checking must not move the caller's RNG
        try:
            algo = build_algo(cfg, tuple(ds), torch.device("cpu"))
        except (RuntimeError, ValueError) as e:
            raise _bad(path, f"its data_shape {ds} does not fit this run's model ({one_line(e)[:100]})") from None
    for key in ("sampler", "rng"):  # what an exact resume needs besides the model
        if key not in state:
            raise _bad(path, f"no '{key}' state to resume from")
    check_state(state, algo, path)
    return path


def load_model(json_path: Path, device, expect: Config | None = None):
    """(algo, meta): the model of one checkpoint, rebuilt from the config inside it, every piece checked
    (``load``, ``check_belongs`` against ``expect`` when given, ``check_state``) before it is loaded."""
    from genzoo.training.build import build_algo

    json_path = Path(json_path)
    state, meta = load(json_path, expect=expect)
    if not isinstance(meta.get("config"), dict) or "data_shape" not in meta:
        raise _bad(json_path, "it records no config or data_shape")
    try:
        cfg = Config.from_dict(meta["config"], source=f"{json_path} config")
    except GenzooError as e:
        raise _bad(json_path, f"its config is invalid ({one_line(e)[:150]})") from None
    with torch.random.fork_rng(devices=[]):  # building must not move the caller's RNG
        torch.manual_seed(0)
        try:
            algo = build_algo(cfg, tuple(meta["data_shape"]), device)
        except (RuntimeError, ValueError) as e:
            raise _bad(json_path, f"its data_shape does not fit its model ({one_line(e)[:100]})") from None
    check_state(state, algo, json_path)
    try:
        algo.load_state_dict(state["algo"])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as e:
        raise _bad(json_path, f"its state does not fit its model ({one_line(e)[:150]})") from None
    return algo, meta
