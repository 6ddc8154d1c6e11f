"""Checks of config values, done once when a value is set (``Config.set``): the YAML value converted to the
field's type, its choices (the ``Literal`` annotations in genzoo.config) and its range (``RANGES``). Every error
is one line naming the key, the bad value and what is valid."""
from __future__ import annotations

import math
import os
import re
import types
from typing import Any, Literal, Union, get_args, get_origin

from genzoo.errors import GenzooError

DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")

# Ranges of the numbers: ">0" (and finite), ">=1", "[0,1)" ... Floats must also be finite.
RANGES: dict[str, str] = {
    "data.image_size": "[1,4096]", "data.toy_samples": ">=1",
    "model.z_dim": "[1,100000]", "model.z_scale": ">0", "model.z_warmup": ">=0", "model.g_width": ">=1",
    "model.d_width": ">=1", "model.mlp_hidden": ">=1", "model.mlp_layers": ">=0", "model.d_dropout": "[0,1)",
    "model.g_bn_momentum": "(0,1]", "model.fc_hidden": ">=0",
    "model.dcgan_layers": "[0,8]", "model.dcgan_kernel": "[2,7]", "model.num_classes": ">=1", "model.info_cat": ">=1",
    "model.info_cont": ">=0",
    "model.sigma": ">=0", "model.unet_depth": "[0,8]", "model.patch_layers": ">=0", "model.g_dropout": "[0,1)",
    "model.pack": "[1,1024]", "model.maxout_hidden": ">=1", "model.maxout_layers": ">=1", "model.maxout_pieces": ">=1",
    "loss.clip": ">=0", "loss.gp_weight": ">=0", "loss.label_smoothing": "[0,1)", "loss.label_flip": "[0,1]",
    "loss.instance_noise": ">=0", "loss.top_k": "(0,1]", "loss.top_k_half_life": ">=0", "loss.aux_weight": ">=0",
    "loss.info_weight_cat": ">=0",
    "loss.info_weight_cont": ">=0", "loss.consistency": ">=0", "loss.consistency_shift": ">=0",
    "loss.consistency_rotate": "[0,180]", "loss.consistency_scale": "[0,1)", "loss.beta": ">=0",
    "loss.kl_warmup": ">=0", "loss.iwae_k": "[1,100000]", "loss.l1_weight": ">=0",
    "optim.lr_g": ">0", "optim.lr_d": ">0", "optim.lr": ">0", "optim.beta1": "[0,1)", "optim.beta2": "[0,1)",
    "optim.lr_half_life": ">=0", "optim.lr_drop_at": ">=0", "optim.lr_drop": "(0,1]",
    "optim.ema": "[0,1)",
    "train.seed": "[0,9223372036854775808)", "train.steps": ">=1", "train.minutes": ">=0",
    "train.batch_size": ">=1", "train.n_critic": ">=1", "train.g_steps": ">=1", "train.log_every": ">=1",
    "train.sample_every": ">=1", "train.ckpt_every": ">=1", "train.keep_ckpts": ">=0", "train.n_grid": ">=1",
    "watch.every": ">=0", "watch.diversity_every": ">=0", "watch.diversity_n": ">=2", "watch.window": ">=0",
    "watch.warmup": ">=0", "watch.osc_window": ">=1", "watch.loss_limit": ">0", "watch.lr_factor": "(0,1]",
    "watch.max_rollbacks": ">=0",
}


def env_int(name: str, default: int, unit: str, example: int) -> int:
    """A whole number from the environment variable ``name`` (``default`` when unset); one line if it is not."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        raise GenzooError(f"{name} must be a whole number of {unit}, got {os.environ[name]!r}; "
                          f"unset it or set e.g. {example}") from None


SEED_MAX = 2**63  # seeds are 0 <= seed < 2**63: what torch.Generator.manual_seed and NumPy both accept


def check_seed(seed: int, flag: str = "--seed") -> int:
    """A seed as the CLI and the API take it: a whole number in [0, 2**63)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_MAX:
        raise GenzooError(f"{flag} must be a whole number from 0 to 2**63-1 ({SEED_MAX - 1}), got {seed!r}; "
                          "pick one such as 0")
    return seed


def check(key: str, hint: Any, value: Any, source: str = "config") -> Any:
    """``value`` for the field ``key`` annotated ``hint``, converted from YAML and checked against the field's
    type, choices and range; a one-line GenzooError naming the key, the value and what is valid otherwise."""
    args = get_args(hint)
    if get_origin(hint) in (Union, types.UnionType):  # X | None
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        args = get_args(hint)
    if value is None:
        raise GenzooError(f"{source}: '{key}' cannot be empty; give it a value (--set {key}=VALUE)")
    if get_origin(hint) is Literal:
        v = _coerce(value, type(args[0]), key, source)
        if v not in args:
            noun = "action" if key.startswith("watch.") else key
            valid = ", ".join(str(a) for a in args if a != "")
            if "" in args:
                valid += " or empty" + (" (= watch.action)" if noun == "action" else "")
            raise GenzooError(f"{source}: unknown {noun} {value!r}{f' for {key}' if noun != key else ''}; "
                              f"valid: {valid}")
        return v
    v = _coerce(value, hint, key, source)
    if key == "train.device" and not DEVICE.fullmatch(v):
        raise GenzooError(f"{source}: train.device must be auto, cpu, cuda, cuda:N or mps, got {v!r}")
    if key in RANGES and not _in_range(v, RANGES[key]):
        spec = RANGES[key]
        want = spec.replace(">", "> ").replace("> =", ">= ") if spec[0] == ">" else "in " + spec.replace(",", ", ")
        want = want.replace("9223372036854775808", "2**63")
        raise GenzooError(f"{source}: {key} must be {'a finite number ' if hint is float else ''}{want}, got {v!r}; "
                          f"set a valid value with --set {key}=VALUE")
    return v


def _in_range(v: float, spec: str) -> bool:
    if not math.isfinite(v):
        return False
    if spec.startswith(">="):
        return v >= float(spec[2:])
    if spec.startswith(">"):
        return v > float(spec[1:])
    lo, hi = (float(t) for t in spec[1:-1].split(","))
    return (lo <= v if spec[0] == "[" else lo < v) and (v <= hi if spec[-1] == "]" else v < hi)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _coerce(value: Any, kind: type, key: str, source: str) -> Any:
    """A YAML value as ``kind`` (bool, int, float or str), refusing lossy conversions."""
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
    except (ValueError, TypeError, OverflowError):
        raise GenzooError(f"{source}: '{key}' expects {kind.__name__}, got {_short(value)}; "
                          f"set one with --set {key}=VALUE") from None
    return value
