"""Config -> objects: the dataset and the algo, with nets chosen by data shape.

Registries are dicts filled by a decorator; adding a model family is one function here.
"""
from __future__ import annotations

from typing import Callable

import torch

from genzoo.algos.base import Algo, resolve_device, resolve_precision
from genzoo.algos.gan import GAN
from genzoo.algos.vae import VAE
from genzoo.config import Config
from genzoo.data import Dataset, load_dataset
from genzoo.errors import GenzooError
from genzoo.losses import GAN_LOSSES
from genzoo.losses.vae import LIKELIHOODS
from genzoo.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from genzoo.nets.dcgan import _BASE as DCGAN_SIZES
from genzoo.nets.conditional import MODES as COND_MODES
from genzoo.nets.conditional import ConditionalD
from genzoo.nets.dcgan import NORMS as DCGAN_NORMS
from genzoo.nets.vae import Encoder, PixelScale

ALGOS: dict[str, Callable[[Config, Dataset, torch.device], Algo]] = {}


def register(family: str):
    def deco(fn):
        ALGOS[family] = fn
        return fn
    return deco


def dataset_for(cfg: Config, split: str = "train") -> Dataset:
    d = cfg.data
    if d.task:
        from genzoo.data.pairs import load_pairs
        return load_pairs(d.dataset, d.task, split, d.root, d.image_size, d.channels, d.direction, d.edges, d.scale)
    if cfg.family == "pix2pix":
        raise GenzooError("pix2pix needs paired data: pass --task (ab, folders, gray2color, edges, downsample, mask)")
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


def _arch(cfg: Config, shape: tuple[int, ...]) -> str:
    arch, is_image = cfg.model.arch, len(shape) == 3
    if arch == "auto":
        arch = "dcgan" if is_image else "mlp"
    if arch not in ("dcgan", "mlp"):
        raise GenzooError(f"unknown model.arch '{arch}'; valid: auto, dcgan, mlp")
    if arch == "dcgan":
        if not is_image:
            raise GenzooError(f"model.arch=dcgan needs images, but the data has shape {shape}; use mlp")
        c, h, w = shape
        if h != w or h not in DCGAN_SIZES:
            raise GenzooError(f"dcgan nets support {sorted(DCGAN_SIZES)}x square images, got {h}x{w}; "
                              "set data.image_size")
    return arch


def gan_nets(cfg: Config, shape: tuple[int, ...]):
    m = cfg.model
    is_image = len(shape) == 3
    if m.cond not in ("none",) + COND_MODES:
        raise GenzooError(f"unknown model.cond '{m.cond}'; valid: none, " + ", ".join(COND_MODES))
    code_dim = {"none": 0, "info": m.info_cat + m.info_cont}.get(m.cond, m.num_classes)
    label_in = m.num_classes if m.cond == "concat" else 0       # the label as extra input channels of D
    if _arch(cfg, shape) == "dcgan":
        c, h, _ = shape
        if m.d_norm not in DCGAN_NORMS:
            raise GenzooError(f"unknown model.d_norm '{m.d_norm}'; valid: " + ", ".join(DCGAN_NORMS))
        G = DCGANGenerator(m.z_dim + code_dim, c, h, m.g_width, fc_hidden=m.fc_hidden)
        D = DCGANDiscriminator(c, h, m.d_width, dropout=m.d_dropout, norm=m.d_norm, cond_dim=label_in,
                               fc_hidden=m.fc_hidden)
        conv = True
    else:
        G = MLPGenerator(m.z_dim + code_dim, shape, m.mlp_hidden, m.mlp_layers, tanh=is_image,
                         batchnorm=m.g_batchnorm)
        D = MLPDiscriminator(shape, m.mlp_hidden, m.mlp_layers, dropout=m.d_dropout, cond_dim=label_in)
        conv = False
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
    if not cfg.model.z_scale > 0:
        raise GenzooError(f"model.z_scale must be positive, got {cfg.model.z_scale}")
    if cfg.model.z_warmup < 0:
        raise GenzooError(f"model.z_warmup must not be negative, got {cfg.model.z_warmup}")
    if L.consistency < 0 or L.consistency_shift < 0 or L.consistency_rotate < 0 or not 0 <= L.consistency_scale < 1:
        raise GenzooError("loss.consistency and its shift/rotate must not be negative, consistency_scale in [0, 1)")
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
               info_weights=(L.info_weight_cat, L.info_weight_cont), z_dist=cfg.model.z_dist,
               z_scale=cfg.model.z_scale, z_warmup=cfg.model.z_warmup, consistency=L.consistency,
               consistency_aug=dict(shift=L.consistency_shift, rotate=L.consistency_rotate,
                                    scale=L.consistency_scale, flip=L.consistency_flip))


@register("vae")
@register("ae")
def build_vae(cfg: Config, shape: tuple[int, ...], device: torch.device) -> VAE:
    """AE, VAE, β-VAE and conditional VAE: encoder = a D body with a latent head, decoder = a G
    that emits logits; MLP or DCGAN nets by ``model.arch``."""
    m, L, O, T = cfg.model, cfg.loss, cfg.optim, cfg.train
    if len(shape) != 3:
        raise GenzooError(f"the {cfg.family} recipes model images; this data has shape {shape}")
    if m.likelihood not in LIKELIHOODS:
        raise GenzooError(f"unknown model.likelihood '{m.likelihood}'; valid: " + ", ".join(LIKELIHOODS))
    if m.cond not in ("none", "concat"):
        raise GenzooError(f"model.cond={m.cond} is for GANs; a conditional VAE uses model.cond=concat")
    if m.binarize and m.likelihood != "bernoulli":
        raise GenzooError("model.binarize needs model.likelihood=bernoulli")
    if L.iwae_k < 1 or (L.iwae_k > 1 and cfg.family == "ae"):
        raise GenzooError("loss.iwae_k must be >= 1, and 1 for an autoencoder")
    k = m.num_classes if m.cond == "concat" else 0
    c, h, _ = shape
    if _arch(cfg, shape) == "dcgan":
        body = DCGANDiscriminator(c, h, m.d_width, norm="batch", cond_dim=k)
        Dec = DCGANGenerator(m.z_dim + k, c, h, m.g_width, tanh=False)
    else:
        body = MLPDiscriminator(shape, m.mlp_hidden, m.mlp_layers, cond_dim=k)
        Dec = MLPGenerator(m.z_dim + k, shape, m.mlp_hidden, m.mlp_layers, tanh=False)
    E = Encoder(body, m.z_dim, stochastic=cfg.family == "vae", num_classes=k)
    scale = PixelScale(shape, m.sigma) if m.likelihood == "gaussian" else None
    params = list(E.parameters()) + list(Dec.parameters()) + (list(scale.parameters()) if scale else [])
    opt = _make_optimizer(O.name, params, O.lr, (O.beta1, O.beta2))
    return VAE(E, Dec, opt, z_dim=m.z_dim, device=device, likelihood=m.likelihood, scale=scale,
               beta=L.beta if cfg.family == "vae" else 0.0, kl_warmup=L.kl_warmup, iwae_k=L.iwae_k,
               binarize=m.binarize, num_classes=k, lr_half_life=O.lr_half_life,
               precision=resolve_precision(T.precision, device, conv=False))


@register("pix2pix")
def build_pix2pix(cfg: Config, shape: tuple[int, ...], device: torch.device):
    """U-Net G and PatchGAN D for pairs of shape (C_A, C_B, H, W) (``PairedDataset.sample_shape``)."""
    from genzoo.algos.pix2pix import MODES, Pix2Pix
    from genzoo.nets.patchgan import PatchGAN, auto_layers
    from genzoo.nets.unet import UNetGenerator, auto_depth

    m, L, O, T = cfg.model, cfg.loss, cfg.optim, cfg.train
    if L.mode not in MODES:
        raise GenzooError(f"unknown loss.mode '{L.mode}'; valid: " + ", ".join(MODES))
    if L.name not in GAN_LOSSES:
        raise GenzooError(f"unknown GAN loss '{L.name}'; valid: " + ", ".join(GAN_LOSSES))
    if m.d_norm not in DCGAN_NORMS:
        raise GenzooError(f"unknown model.d_norm '{m.d_norm}'; valid: " + ", ".join(DCGAN_NORMS))
    if len(shape) != 4:
        raise GenzooError("pix2pix needs paired data: pass --task (ab, folders, gray2color, edges, downsample, mask)")
    c_a, c_b, size = shape[0], shape[1], shape[2]
    depth = m.unet_depth or auto_depth(size)
    if size % 2 ** depth:
        raise GenzooError(f"a U-Net of depth {depth} needs image sizes divisible by {2 ** depth}, got {size}; "
                          "set data.image_size or model.unet_depth")
    G = UNetGenerator(c_a, c_b, size, m.g_width, depth, m.g_dropout)
    opt_g = _make_optimizer(O.name, G.parameters(), O.lr_g, (O.beta1, O.beta2))
    D = opt_d = None
    if L.mode != "l1":
        D = PatchGAN(c_a + c_b if L.mode in ("l1+cgan", "cgan") else c_b, m.d_width, m.patch_layers or auto_layers(size),
                     norm=m.d_norm)
        opt_d = _make_optimizer(O.name, D.parameters(), O.lr_d, (O.beta1, O.beta2))
    return Pix2Pix(G, D, opt_g, opt_d, device=device, loss=L.name, mode=L.mode, l1_weight=L.l1_weight,
                   clip=L.clip if L.name == "wgan" else 0.0, gp_weight=L.gp_weight if L.name == "wgan-gp" else 0.0,
                   precision=resolve_precision(T.precision, device, True), channels_last=True)
