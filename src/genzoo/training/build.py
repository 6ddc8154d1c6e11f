"""Config -> objects: the dataset and the algo, with nets chosen by data shape.

Registries are dicts filled by a decorator; adding a model family is one function here.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar

import torch

from genzoo.algos.base import Algo, resolve_device, resolve_precision
from genzoo.algos.gan import GAN, GANOptions
from genzoo.algos.vae import VAE
from genzoo.config import Config, OptimConfig
from genzoo.data import Dataset, load_dataset
from genzoo.errors import GenzooError
from genzoo.losses import GANObjective
from genzoo.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from genzoo.nets.conditional import ConditionalD
from genzoo.nets.dcgan import _BASE as DCGAN_SIZES, _plan as dcgan_plan
from genzoo.nets.vae import Encoder, PixelScale

Opts = TypeVar("Opts")

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
    return load_dataset(d.dataset, split, d.root, d.image_size, d.channels, d.strict, d.toy_samples, d.storage)


def build_algo(cfg: Config, data_shape: tuple[int, ...], device: torch.device | None = None) -> Algo:
    cfg.validate()  # settings assigned as attributes bypass Config.set's checks
    if cfg.train.g_steps != 1 and cfg.family != "gan":
        raise GenzooError(f"train.g_steps applies to GANs; the {cfg.family} recipes take one G step per step, "
                          "so leave it at 1")
    if cfg.loss.top_k < 1 and cfg.family != "gan":
        raise GenzooError(f"loss.top_k applies to GANs; the {cfg.family} recipes learn from every sample, "
                          "so leave it at 1")
    device = device or resolve_device(cfg.train.device)
    if device.type == "cuda":  # TF32 for fp32 matrix products and convolutions, where the GPU has it (Ampere on)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return ALGOS[cfg.family](cfg, tuple(data_shape), device)


def options_from(cls: type[Opts], *sections: Any, **values: Any) -> Opts:
    """An options dataclass filled by field name from config sections (``values`` take precedence), so a new
    option is one config field and one options field with the same name."""
    for f in dataclasses.fields(cls):
        owners = [s for s in sections if hasattr(s, f.name)]
        if len(owners) > 1:
            raise AssertionError(f"{cls.__name__}.{f.name} is in more than one config section")
        if owners and f.name not in values:
            values[f.name] = getattr(owners[0], f.name)
    return cls(**values)


def _make_optimizer(name: str, params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)  # one kernel for all parameters (CPU, CUDA)


def _arch(cfg: Config, shape: tuple[int, ...]) -> str:
    arch, is_image = cfg.model.arch, len(shape) == 3
    if arch == "auto":
        arch = "dcgan" if is_image else "mlp"
    if arch == "dcgan":
        if not is_image:
            raise GenzooError(f"model.arch=dcgan needs images, but the data has shape {shape}; use mlp")
        c, h, w = shape
        if h != w or h not in DCGAN_SIZES:
            raise GenzooError(f"dcgan nets support {sorted(DCGAN_SIZES)}x square images, got {h}x{w}; "
                              "set data.image_size")
        n = cfg.model.dcgan_layers
        if n and dcgan_plan(h, n)[0] < 2:
            most = max(k for k in range(1, n) if dcgan_plan(h, k)[0] >= 2)
            raise GenzooError(f"model.dcgan_layers must be at most {most} for {h}x{h} images ({n} halves them "
                              "below 2x2; 0 = the size's default)")
    return arch


def check_pack(cfg: Config) -> int:
    """PacGAN packing: D reads train.batch_size / model.pack packs of model.pack samples each."""
    m, b = cfg.model.pack, cfg.train.batch_size
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise GenzooError(f"model.pack must be a whole number >= 1 (1 = no packing), got {m!r}")
    if b % m:
        raise GenzooError(f"train.batch_size={b} is not a multiple of model.pack={m}: D judges packs of {m} "
                          f"samples; use a batch size such as {100 * m} (PacGAN: 100 packs of {m})")
    if m > 1 and cfg.model.cond != "none":
        raise GenzooError(f"model.pack={m} works with unconditional GANs only; set model.cond=none or model.pack=1")
    return m


def dcgan_shape(m) -> dict:
    """The depth and kernel of the dcgan nets, from the model section."""
    return {"layers": m.dcgan_layers, "kernel": m.dcgan_kernel}


def gan_nets(cfg: Config, shape: tuple[int, ...]):
    m = cfg.model
    is_image = len(shape) == 3
    code_dim = {"none": 0, "info": m.info_cat + m.info_cont}.get(m.cond, m.num_classes)
    label_in = m.num_classes if m.cond == "concat" else 0       # the label as extra input channels of D
    pack = check_pack(cfg)
    d_shape = (shape[0] * pack, *shape[1:])  # packing: vectors concatenated, or channels stacked
    if _arch(cfg, shape) == "dcgan":
        c, h, _ = shape
        G = DCGANGenerator(m.z_dim + code_dim, c, h, m.g_width, fc_hidden=m.fc_hidden, **dcgan_shape(m))
        D = DCGANDiscriminator(c * pack, h, m.d_width, dropout=m.d_dropout, norm=m.d_norm, cond_dim=label_in,
                               fc_hidden=m.fc_hidden, **dcgan_shape(m))
        conv = True
    else:
        G = MLPGenerator(m.z_dim + code_dim, shape, m.mlp_hidden, m.mlp_layers, tanh=is_image,
                         batchnorm=m.g_batchnorm, bn_momentum=m.g_bn_momentum)
        D = MLPDiscriminator(d_shape, m.mlp_hidden, m.mlp_layers, dropout=m.d_dropout, cond_dim=label_in)
        conv = False
    if m.d_arch == "maxout":
        if m.cond != "none":
            raise GenzooError("model.d_arch=maxout is an unconditional D; set model.cond=none or model.d_arch=same")
        from genzoo.nets.maxout import MaxoutDiscriminator
        D = MaxoutDiscriminator(d_shape, m.maxout_hidden, m.maxout_layers, m.maxout_pieces)
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
    O, T = cfg.optim, cfg.train
    G, D, conv = gan_nets(cfg, shape)
    opt_g = _make_optimizer(O.name, G.parameters(), O.lr_g, (O.beta1, O.beta2))
    opt_d = _make_optimizer(O.name, D.parameters(), O.lr_d, (O.beta1, O.beta2))
    options = options_from(GANOptions, cfg.loss, cfg.model, cfg.optim, loss=cfg.loss.name,
                           noise_anneal_steps=T.steps * T.n_critic)
    return GAN(G, D, opt_g, opt_d, options, device=device, precision=resolve_precision(T.precision, device, conv),
               channels_last=conv)


@register("vae")
@register("ae")
def build_vae(cfg: Config, shape: tuple[int, ...], device: torch.device) -> VAE:
    """AE, VAE, β-VAE and conditional VAE: encoder = a D body with a latent head, decoder = a G
    that emits logits; MLP or DCGAN nets by ``model.arch``."""
    m, L, O, T = cfg.model, cfg.loss, cfg.optim, cfg.train
    if len(shape) != 3:
        raise GenzooError(f"the {cfg.family} recipes model images; this data has shape {shape}")
    if m.cond not in ("none", "concat"):
        raise GenzooError(f"model.cond={m.cond} is for GANs; a conditional VAE uses model.cond=concat")
    if m.binarize and m.likelihood != "bernoulli":
        raise GenzooError("model.binarize needs model.likelihood=bernoulli")
    if L.iwae_k > 1 and cfg.family == "ae":
        raise GenzooError("loss.iwae_k must be 1 for an autoencoder")
    k = m.num_classes if m.cond == "concat" else 0
    c, h, _ = shape
    if _arch(cfg, shape) == "dcgan":
        body = DCGANDiscriminator(c, h, m.d_width, norm="batch", cond_dim=k, **dcgan_shape(m))
        Dec = DCGANGenerator(m.z_dim + k, c, h, m.g_width, tanh=False, **dcgan_shape(m))
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
               lr_drop_at=O.lr_drop_at, lr_drop=O.lr_drop,
               precision=resolve_precision(T.precision, device, conv=False))


def _refuse_lr_schedule(O: OptimConfig, family: str) -> None:
    """pix2pix and advgan keep constant learning rates: a schedule set for them is one line, not ignored."""
    if O.lr_half_life or O.lr_drop_at:
        raise GenzooError(f"optim.lr_half_life and optim.lr_drop_at apply to the GAN family, AEs and VAEs; {family} "
                          "keeps its learning rates constant, so leave them at 0")


@register("pix2pix")
def build_pix2pix(cfg: Config, shape: tuple[int, ...], device: torch.device):
    """U-Net G and PatchGAN D for pairs of shape (C_A, C_B, H, W) (``PairedDataset.sample_shape``)."""
    from genzoo.algos.pix2pix import Pix2Pix
    from genzoo.nets.patchgan import PatchGAN, auto_layers
    from genzoo.nets.unet import UNetGenerator, auto_depth

    m, L, O, T = cfg.model, cfg.loss, cfg.optim, cfg.train
    _refuse_lr_schedule(O, "pix2pix")
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
    return Pix2Pix(G, D, opt_g, opt_d, device=device, objective=GANObjective.create(L.name, L), mode=L.mode,
                   l1_weight=L.l1_weight, precision=resolve_precision(T.precision, device, True), channels_last=True)


@register("advgan")
def build_advgan(cfg: Config, shape: tuple[int, ...], device: torch.device):
    """AdvGAN: a perturbation generator and a DCGAN D against the fixed classifier ``model.target``."""
    from genzoo.algos.advgan import AdvGAN
    from genzoo.metrics.classifier import target_for
    from genzoo.nets.advgan import PerturbationG

    m, L, O, T = cfg.model, cfg.loss, cfg.optim, cfg.train
    _refuse_lr_schedule(O, "advgan")
    if len(shape) != 3 or shape[1] % 2:
        raise GenzooError(f"advgan attacks images of even size; this data has shape {shape}")
    if not 0 < m.eps <= 1:
        raise GenzooError(f"model.eps={m.eps} is outside (0, 1]; ε is in pixel units")
    net = target_for(m.target, cfg.data.dataset, shape)
    G = PerturbationG(shape[0], m.g_width)
    _arch(cfg, shape)  # checks the dcgan settings for these images
    D = DCGANDiscriminator(shape[0], shape[1], m.d_width, norm=m.d_norm, **dcgan_shape(m))
    opt_g = _make_optimizer(O.name, G.parameters(), O.lr_g, (O.beta1, O.beta2))
    opt_d = _make_optimizer(O.name, D.parameters(), O.lr_d, (O.beta1, O.beta2))
    return AdvGAN(G, D, net, opt_g, opt_d, device=device, eps=m.eps, objective=GANObjective.create(L.name, L),
                  adv_weight=L.adv_weight, hinge_weight=L.hinge_weight, hinge_c=L.hinge_c,
                  precision=resolve_precision(T.precision, device, False))
