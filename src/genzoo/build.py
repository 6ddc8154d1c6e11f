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
    if arch == "auto":
        arch = "dcgan" if is_image else "mlp"
    if arch == "dcgan":
        if not is_image:
            raise GenzooError(f"model.arch=dcgan needs images, but the data has shape {shape}; use mlp")
        c, h, w = shape
        if h != w or h not in DCGAN_SIZES:
            raise GenzooError(f"dcgan nets support {sorted(DCGAN_SIZES)}x square images, got {h}x{w}; "
                              "set data.image_size")
        G = DCGANGenerator(m.z_dim, c, h, m.g_width)
        if m.d_norm not in DCGAN_NORMS:
            raise GenzooError(f"unknown model.d_norm '{m.d_norm}'; valid: " + ", ".join(DCGAN_NORMS))
        D = DCGANDiscriminator(c, h, m.d_width, dropout=m.d_dropout, norm=m.d_norm)
        return G, D, True
    if arch == "mlp":
        G = MLPGenerator(m.z_dim, shape, m.mlp_hidden, m.mlp_layers, tanh=is_image, batchnorm=m.g_batchnorm)
        D = MLPDiscriminator(shape, m.mlp_hidden, m.mlp_layers, dropout=m.d_dropout)
        return G, D, False
    raise GenzooError(f"unknown model.arch '{arch}'; valid: auto, dcgan, mlp")


@register("gan")
def build_gan(cfg: Config, shape: tuple[int, ...], device: torch.device) -> GAN:
    L, O, T = cfg.loss, cfg.optim, cfg.train
    if L.name not in GAN_LOSSES:
        raise GenzooError(f"unknown GAN loss '{L.name}'; valid: " + ", ".join(GAN_LOSSES))
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
               ema=O.ema, channels_last=conv)
