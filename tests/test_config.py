"""Config values are checked once, when set: choices (Literal fields), ranges, the device's form, and unknown
keys answered with the closest names. Each error is one line naming the key, the value and what is valid."""
from typing import get_args

import pytest
import torch

from genzoo.config import Config, Cond, DNorm, Likelihood, LossName, Pix2PixMode, Task
from genzoo.config_files import list_recipes, load_recipe
from genzoo.config_values import RANGES
from genzoo.errors import GenzooError
from genzoo.training.build import build_algo


def _err(key, value):
    with pytest.raises(GenzooError) as e:
        Config().set(key, value)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_choices_match_the_registries():
    from genzoo.algos.pix2pix import MODES
    from genzoo.data.pairs import TASKS
    from genzoo.losses import GAN_LOSSES
    from genzoo.losses.vae import LIKELIHOODS
    from genzoo.nets.conditional import MODES as COND_MODES
    from genzoo.nets.dcgan import NORMS
    assert get_args(LossName) == tuple(GAN_LOSSES)
    assert get_args(Likelihood) == LIKELIHOODS
    assert get_args(Cond) == ("none",) + COND_MODES
    assert get_args(DNorm) == tuple(NORMS)
    assert get_args(Pix2PixMode) == MODES
    assert get_args(Task) == ("",) + TASKS


@pytest.mark.parametrize("key,value,needle", [
    ("model.arch", "resnet", "unknown model.arch 'resnet'; valid: auto, dcgan, mlp"),
    ("model.cond", "film", "unknown model.cond 'film'; valid: none, concat, projection, acgan, info"),
    ("model.d_norm", "spectral", "valid: batch, layer, none"),
    ("model.z_dist", "cauchy", "valid: normal, uniform"),
    ("loss.name", "lsgn", "unknown loss.name 'lsgn'; valid: minimax, nsgan, lsgan, wgan, wgan-gp, hinge"),
    ("loss.mode", "l2", "valid: l1+cgan, l1, cgan, l1+gan"),
    ("optim.name", "sgd", "unknown optim.name 'sgd'; valid: adam, rmsprop"),
    ("train.precision", "fp8", "valid: auto, fp32, bf16, fp16"),
    ("data.task", "colourise", "valid: ab, folders, gray2color, edges, downsample, mask or empty"),
    ("data.direction", "AtoC", "valid: AtoB, BtoA"),
    ("data.edges", "prewitt", "valid: canny, sobel"),
    ("data.scale", 3, "unknown data.scale 3; valid: 2, 4"),
    ("data.channels", 4, "valid: 1, 3"),
    ("family", "flow", "unknown family 'flow'; valid: gan, vae, ae, pix2pix"),
    ("watch.action", "panic", "unknown action 'panic' for watch.action; valid: warn, stop, rollback"),
    ("watch.divergence", "ignore", "valid: warn, stop, rollback or empty (= watch.action)"),
])
def test_choices_are_checked_when_set(key, value, needle):
    assert needle in _err(key, value)


def test_valid_choices_are_accepted():
    cfg = Config()
    for key, value in (("train.precision", "fp16"), ("data.task", "edges"), ("data.scale", 2), ("watch.mode_collapse", ""),
                       ("data.channels", None), ("loss.name", "wgan-gp")):
        cfg.set(key, value)
    assert cfg.train.precision == "fp16" and cfg.data.scale == 2 and cfg.loss.name == "wgan-gp"


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_device_forms(device):
    cfg = Config()
    cfg.set("train.device", device)
    assert cfg.train.device == device


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CPU", "tpu"])
def test_bad_device_forms(device):
    assert f"train.device must be auto, cpu, cuda, cuda:N or mps, got '{device}'" in _err("train.device", device)


@pytest.mark.parametrize("key,value,needle", [
    ("optim.lr_g", 0, "optim.lr_g must be a finite number > 0, got 0.0"),
    ("optim.lr_d", -1e-4, "optim.lr_d must be a finite number > 0, got -0.0001"),
    ("optim.lr", float("nan"), "optim.lr must be a finite number > 0, got nan"),
    ("optim.lr_g", float("inf"), "got inf"),
    ("optim.beta1", 1.0, "optim.beta1 must be a finite number in [0, 1), got 1.0"),
    ("optim.beta2", -0.1, "in [0, 1)"),
    ("train.batch_size", 0, "train.batch_size must be >= 1, got 0"),
    ("train.steps", 0, "train.steps must be >= 1, got 0"),
    ("train.n_critic", 0, ">= 1"),
    ("train.log_every", 0, ">= 1"),
    ("train.ckpt_every", 0, ">= 1"),
    ("train.sample_every", -5, ">= 1"),
    ("model.z_dim", 0, "model.z_dim must be in [1, 100000], got 0"),
    ("model.z_dim", 10 ** 9, "model.z_dim must be in [1, 100000]"),
    ("data.image_size", 0, "data.image_size must be in [1, 4096], got 0"),
    ("train.n_grid", 0, ">= 1"),
    ("loss.label_flip", 1.5, "loss.label_flip must be a finite number in [0, 1], got 1.5"),
    ("loss.label_smoothing", 1.0, "in [0, 1)"),
    ("model.d_dropout", 1.0, "in [0, 1)"),
    ("loss.gp_weight", -10, "loss.gp_weight must be a finite number >= 0, got -10.0"),
    ("loss.l1_weight", -1, ">= 0"),
    ("model.z_scale", 0, "model.z_scale must be a finite number > 0"),
    ("watch.lr_factor", 0, "watch.lr_factor must be a finite number in (0, 1], got 0.0"),
    ("model.pack", 0, "model.pack must be in [1, 1024], got 0"),
    ("model.maxout_pieces", 0, "model.maxout_pieces must be >= 1, got 0"),
    ("model.maxout_hidden", -3, ">= 1"),
    ("model.maxout_layers", 0, ">= 1"),
    ("train.minutes", -1, "train.minutes must be a finite number >= 0, got -1.0"),
])
def test_ranges_are_checked_when_set(key, value, needle):
    assert needle in _err(key, value)


def test_every_range_names_a_number_field():
    keys = set(Config().to_dict()) | {f"{s}.{k}" for s, sub in Config().to_dict().items() if isinstance(sub, dict)
                                      for k in sub}
    assert set(RANGES) <= keys


def test_every_recipe_is_valid():
    for name in list_recipes():
        load_recipe(name).validate()
        load_recipe(name, "toy:ring8").validate()


def test_types_still_checked():
    assert "'train.steps' expects int, got 'abc'" in _err("train.steps", "abc")
    assert "'model.z_dim' expects int, got 2.5" in _err("model.z_dim", 2.5)
    assert "'train.steps' cannot be empty" in _err("train.steps", None)


def test_values_assigned_directly_are_checked_by_build():
    cfg = load_recipe("dcgan")
    cfg.optim.lr_g = -1.0
    with pytest.raises(GenzooError, match="optim.lr_g must be a finite number > 0, got -1.0"):
        build_algo(cfg, (1, 28, 28), torch.device("cpu"))


@pytest.mark.parametrize("key,suggestion", [
    ("model.zdim", "did you mean model.z_dim?"),
    ("zdim", "did you mean model.z_dim?"),
    ("modle.z_dim", "did you mean model.z_dim?"),
    ("train.n_critc", "did you mean train.n_critic?"),
    ("lr_gg", "did you mean optim.lr_g?"),
])
def test_unknown_keys_suggest_the_closest(key, suggestion):
    msg = _err(key, 1)
    assert f"unknown config key '{key}'; {suggestion}" in msg and len(msg) < 120


def test_unknown_key_without_a_close_name_is_short():
    msg = _err("bogus", 1)
    assert "unknown config key 'bogus'" in msg and "sections data, model, loss, optim, train, watch" in msg
    assert "model.z_dim" not in msg
