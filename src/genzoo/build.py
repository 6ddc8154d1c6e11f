"""Config -> objects: the dataset and the algo, with nets chosen by data shape.

Registries are dicts filled by a decorator; adding a model family is one function here.
"""
from __future__ import annotations

from typing import Callable

import torch

from genzoo.algos.base import Algo, resolve_device, resolve_precision
from genzoo.algos.gan import GAN
from genzoo.config import Config
from genzoo.data import Dataset, load_dataset
from genzoo.errors import GenzooError
from genzoo.losses import GAN_LOSSES
from genzoo.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from genzoo.nets.dcgan import _BASE as DCGAN_SIZES
from genzoo.nets.conditional import MODES as COND_MODES
from genzoo.nets.conditional import ConditionalD
from genzoo.nets.dcgan import NORMS as DCGAN_NORMS

ALGOS: dict[str, Callable[[Config, Dataset, torch.device], Algo]] = {}


def register(family: str):
    def deco(fn):
        ALGOS[family] = fn
        return fn
    return deco


def dataset_for(cfg: Config, split: str = "train") -> Dataset:
    d = cfg.data
    return load_dataset(d.dataset, split, d.root, d.image_size, d.channels, d.strict, d.toy_samples)


def build_algo(cfg: Config, data_shape: tuple[int, ...], device: torch.device | None = None) -> Algo:
    if cfg.family not in ALGOS:
        raise GenzooError(f"unknown model family '{cfg.family}'; valid: " + ", ".join(ALGOS))
    device = device or resolve_device(cfg.train.device)
    return ALGOS[cfg.family](cfg, tuple(data_shape), device)


def _make_optimizer(name: str, params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise GenzooError(f"unknown optimizer '{name}'; valid: adam, rmsprop")


def gan_nets(cfg: Config, shape: tuple[int, ...]):
    m = cfg.model
    arch = m.arch
    is_image = len(shape) == 3
    if m.cond not in ("none",) + COND_MODES:
        raise GenzooError(f"unknown model.cond '{m.cond}'; valid: none, " + ", ".join(COND_MODES))
    code_dim = {"none": 0, "info": m.info_cat + m.info_cont}.get(m.cond, m.num_classes)
    label_in = m.num_classes if m.cond == "concat" else 0       # the label as extra input channels of D
    if arch == "auto":
        arch = "dcgan" if is_image else "mlp"
    if arch == "dcgan":
        if not is_image:
            raise GenzooError(f"model.arch=dcgan needs images, but the data has shape {shape}; use mlp")
        c, h, w = shape
        if h != w or h not in DCGAN_SIZES:
            raise GenzooError(f"dcgan nets support {sorted(DCGAN_SIZES)}x square images, got {h}x{w}; "
                              "set data.image_size")
        if m.d_norm not in DCGAN_NORMS:
            raise GenzooError(f"unknown model.d_norm '{m.d_norm}'; valid: " + ", ".join(DCGAN_NORMS))
        G = DCGANGenerator(m.z_dim + code_dim, c, h, m.g_width)
        D = DCGANDiscriminator(c, h, m.d_width, dropout=m.d_dropout, norm=m.d_norm, cond_dim=label_in)
        conv = True
    elif arch == "mlp":
        G = MLPGenerator(m.z_dim + code_dim, shape, m.mlp_hidden, m.mlp_layers, tanh=is_image,
                         batchnorm=m.g_batchnorm)
        D = MLPDiscriminator(shape, m.mlp_hidden, m.mlp_layers, dropout=m.d_dropout, cond_dim=label_in)
        conv = False
    else:
        raise GenzooError(f"unknown model.arch '{arch}'; valid: auto, dcgan, mlp")
    if m.cond != "none":
        D = ConditionalD(D, m.cond, m.num_classes, m.info_cat, m.info_cont)
    return G, D, conv


def check_labels(cfg: Config, data: Dataset) -> None:
    """Conditional GANs need labels in 0..num_classes-1; say so in one line otherwise."""
    m = cfg.model
    if m.cond not in ("concat", "projection", "acgan"):
        return
    if data.y is None:
        raise GenzooError(f"model.cond={m.cond} needs labelled data, but '{data.name}' has no labels")
    lo, hi = int(data.y.min()), int(data.y.max())
    if lo < 0 or hi >= m.num_classes:
        raise GenzooError(f"'{data.name}' has labels {lo}..{hi}, outside 0..{m.num_classes - 1}; "
                          f"set model.num_classes={hi + 1}")


@register("gan")
def build_gan(cfg: Config, shape: tuple[int, ...], device: torch.device) -> GAN:
    L, O, T = cfg.loss, cfg.optim, cfg.train
    if L.name not in GAN_LOSSES:
        raise GenzooError(f"unknown GAN loss '{L.name}'; valid: " + ", ".join(GAN_LOSSES))
    if cfg.model.z_dist not in ("normal", "uniform"):
        raise GenzooError(f"unknown model.z_dist '{cfg.model.z_dist}'; valid: normal, uniform")
    if T.precision not in ("auto", "fp32", "bf16"):
        raise GenzooError(f"unknown precision '{T.precision}'; valid: auto, fp32, bf16")
    G, D, conv = gan_nets(cfg, shape)
    opt_g = _make_optimizer(O.name, G.parameters(), O.lr_g, (O.beta1, O.beta2))
    opt_d = _make_optimizer(O.name, D.parameters(), O.lr_d, (O.beta1, O.beta2))
    return GAN(G, D, opt_g, opt_d, L.name, z_dim=cfg.model.z_dim, device=device,
               precision=resolve_precision(T.precision, device, conv),
               lsgan_abc=(L.lsgan_a, L.lsgan_b, L.lsgan_c),
               clip=L.clip if L.name == "wgan" else 0.0,
               gp_weight=L.gp_weight if L.name == "wgan-gp" else 0.0,
               label_smoothing=L.label_smoothing, label_flip=L.label_flip,
               instance_noise=L.instance_noise, noise_anneal_steps=T.steps * T.n_critic,
               ema=O.ema, channels_last=conv, cond=cfg.model.cond, num_classes=cfg.model.num_classes,
               info_codes=(cfg.model.info_cat, cfg.model.info_cont), aux_weight=L.aux_weight,
               info_weights=(L.info_weight_cat, L.info_weight_cont), z_dist=cfg.model.z_dist)
