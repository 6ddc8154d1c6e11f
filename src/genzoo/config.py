"""Typed run configuration: recipe YAML in, resolved YAML out, unknown keys rejected.

A config has fixed sections (data, model, loss, optim, train). Keys are addressed as
``section.field`` (``train.steps``); a bare field name is accepted when it is unique
across sections (``--set z_dim=10``). Every value is checked once, when it is set: its type,
its choices (the ``Literal`` annotations) and its range (``config_values.RANGES``).
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_type_hints

import yaml

from genzoo.config_values import check
from genzoo.errors import GenzooError

# -- the choices; the registries they name (GAN_LOSSES, LIKELIHOODS ...) are tested to match --
Family = Literal["gan", "vae", "ae", "pix2pix", "advgan"]
Arch = Literal["auto", "dcgan", "mlp"]
DArch = Literal["same", "maxout"]
Cond = Literal["none", "concat", "projection", "acgan", "info"]
DNorm = Literal["batch", "layer", "none"]
ZDist = Literal["normal", "uniform"]
Likelihood = Literal["bernoulli", "gaussian", "cbernoulli"]
LossName = Literal["minimax", "nsgan", "lsgan", "wgan", "wgan-gp", "hinge"]
Pix2PixMode = Literal["l1+cgan", "l1", "cgan", "l1+gan"]
OptimName = Literal["adam", "rmsprop"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
Storage = Literal["auto", "memory", "mmap"]
Task = Literal["", "ab", "folders", "gray2color", "edges", "downsample", "mask"]
Direction = Literal["AtoB", "BtoA"]
EdgeMethod = Literal["canny", "sobel"]
Action = Literal["warn", "stop", "rollback"]
AlertAction = Literal["", "warn", "stop", "rollback"]   # empty: watch.action


@dataclass
class DataConfig:
    dataset: str = "embedded"        # dataset spec: mnist, fashion-mnist, embedded, folder:PATH, toy:ring8 ...
    root: str | None = None          # local copy of the files (--data-root); else $GENZOO_DATA, cache, download
    image_size: int | None = None    # resize images to this size; None keeps the native size
    channels: Literal[1, 3] | None = None  # 1 or 3; None keeps the dataset's own
    strict: bool = False             # folder datasets: reject unreadable files instead of skipping them
    storage: Storage = "auto"        # folder datasets: memory, mmap (a memory-mapped cache) or auto (mmap past 2 GiB)
    toy_samples: int = 100_000       # toy mixtures: size of the in-memory training set
    task: Task = ""                  # pix2pix pairs: ab, folders, gray2color, edges, downsample, mask
    direction: Direction = "AtoB"    # pix2pix ab/folders: AtoB or BtoA
    edges: EdgeMethod = "canny"      # pix2pix edges task: canny or sobel
    scale: Literal[2, 4] = 4         # pix2pix downsample task: 2 or 4


@dataclass
class ModelConfig:
    arch: Arch = "auto"              # auto (dcgan for images, mlp for 2-D points), dcgan, mlp
    z_dim: int = 100
    z_dist: ZDist = "normal"         # normal, or uniform on [-1, 1]
    z_scale: float = 1.0             # noise scale: z ~ N(0, s^2) or U[-s, s] (codes are not scaled)
    z_warmup: int = 0                # training: fade the noise z in linearly over this many D steps
    g_width: int = 64                # base channel count of the dcgan nets
    d_width: int = 64
    mlp_hidden: int = 256            # hidden units of the MLP nets
    mlp_layers: int = 2              # hidden layers of the MLP nets
    d_dropout: float = 0.0           # dropout in D (randomness for robustness: Goodfellow et al. 2014)
    d_norm: DNorm = "batch"          # dcgan D: batch, layer (for gradient penalties) or none
    fc_hidden: int = 0               # dcgan nets: FC hidden layer of this width in G and D (InfoGAN's: 1024)
    dcgan_layers: int = 0            # dcgan nets: stride-2 layers in G and D; 0 = the size's (28: 2, 32: 3, 64: 4)
    dcgan_kernel: int = 4            # dcgan nets: kernel size (4: pytorch/examples; 5: DCGAN's authors, carpedm20)
    cond: Cond = "none"              # none, concat (CGAN), projection, acgan, info (InfoGAN)
    num_classes: int = 10            # labels 0..num_classes-1 for concat / projection / acgan
    info_cat: int = 10               # InfoGAN: classes of the categorical code
    info_cont: int = 2               # InfoGAN: continuous codes, uniform on [-1, 1]
    g_batchnorm: bool = False        # batch norm in the MLP generator's hidden layers (Ioffe & Szegedy 2015)
    g_bn_momentum: float = 0.1       # ... weight of each batch in its population statistics (PacGAN's code: 0.05)
    pack: int = 1                    # PacGAN: D judges packs of this many samples (divides train.batch_size)
    d_arch: DArch = "same"           # same: D of model.arch; maxout: PacGAN's 2-D D (LinearMaxout layers)
    maxout_hidden: int = 200         # maxout D: units per layer (PacGAN: 200)
    maxout_layers: int = 3           # maxout D: LinearMaxout layers (PacGAN: 3)
    maxout_pieces: int = 5           # maxout D: pieces per unit (PacGAN: 5)
    likelihood: Likelihood = "bernoulli"  # AE/VAE decoder: bernoulli, gaussian, cbernoulli (continuous Bernoulli)
    sigma: float = 0.0               # gaussian likelihood: fixed std on [0, 1] pixels; 0 learns one per pixel
    binarize: bool = False           # AE/VAE: binarise images afresh every batch (Burda et al. 2016)
    unet_depth: int = 0              # pix2pix U-Net halvings; 0 = as many as the image size allows (max 8)
    patch_layers: int = 0            # pix2pix PatchGAN stride-2 layers (3 = 70x70 patches); 0 = scaled to the size
    g_dropout: float = 0.5           # pix2pix: dropout in the U-Net's three innermost decoder layers
    target: str = ""                 # advgan: the classifier attacked (lenet-mnist, a weights file); "" = the data's
    eps: float = 0.3                 # advgan: L-inf bound of the perturbation, [0, 1] pixels (Xiao et al. 2018)


@dataclass
class LossConfig:
    name: LossName = "nsgan"         # minimax, nsgan, lsgan, wgan, wgan-gp, hinge
    lsgan_a: float = 0.0             # LSGAN label for fake (Mao et al. 2017, Eq. 2)
    lsgan_b: float = 1.0             # LSGAN label for real
    lsgan_c: float = 1.0             # value G wants D to believe for fake
    clip: float = 0.01               # WGAN weight clipping c (Arjovsky et al. 2017, Alg. 1)
    gp_weight: float = 10.0          # WGAN-GP lambda (Gulrajani et al. 2017, Alg. 1)
    label_smoothing: float = 0.0     # one-sided: real target 1 - s, LSGAN b - s (Salimans et al. 2016)
    label_flip: float = 0.0          # probability of swapping real/fake targets in D's step
    instance_noise: float = 0.0      # std of Gaussian noise added to D's inputs (annealed to 0)
    top_k: float = 1.0               # GANs, top-k training: G learns from this fraction of its samples, those D finds
                                     # most real (Sinha et al. 2020); 1 = all
    top_k_half_life: int = 0         # ... which shrinks from 1, halving every this many D steps; 0 = top_k from the start
    aux_weight: float = 1.0          # ACGAN: weight of the auxiliary classifier's cross-entropy
    info_weight_cat: float = 1.0     # InfoGAN: lambda for the categorical code (Chen et al. 2016, Sec. 7)
    info_weight_cont: float = 0.1    # InfoGAN: smaller lambda for the continuous codes, as the paper advises
    consistency: float = 0.0         # CR-GAN lambda (Zhang et al. 2020): D's outputs on real images vs augmented copies
    consistency_shift: int = 2       # consistency augmentation: translation of up to this many pixels
    consistency_rotate: float = 15.0 # ... rotation of up to this many degrees
    consistency_scale: float = 0.1   # ... zoom by a factor in [1 - s, 1 + s]
    consistency_flip: bool = False   # ... left-right mirroring (natural images, not digits)
    beta: float = 1.0                # VAE: weight of the KL term (beta-VAE: > 1, Higgins et al. 2017)
    kl_warmup: int = 0               # VAE: steps over which beta ramps up from 0 (Sonderby et al. 2016)
    iwae_k: int = 1                  # VAE: train on the importance-weighted bound with k samples (Burda et al.)
    l1_weight: float = 100.0         # pix2pix lambda (Isola et al. 2017, Sec. 4.2)
    mode: Pix2PixMode = "l1+cgan"    # pix2pix objective: l1+cgan, l1, cgan, l1+gan (unconditional D)
    adv_weight: float = 10.0         # advgan: weight of the C&W margin loss on the target classifier
    hinge_weight: float = 1.0        # advgan: weight of the hinge on the perturbation's L2 size
    hinge_c: float = 3.0             # advgan: L2 size (pixels in [0, 1]) the hinge lets through for free


@dataclass
class OptimConfig:
    name: OptimName = "adam"         # adam or rmsprop
    lr_g: float = 2e-4               # DCGAN: Radford et al. 2016, Sec. 4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr: float = 1e-3                 # AE/VAE: one optimizer over encoder and decoder
    lr_half_life: int = 0            # AE/VAE and GANs: steps (GANs: D steps) over which the rates halve; 0 = constant
    lr_drop_at: int = 0              # AE/VAE and GANs: after this many steps (GANs: D steps) the rates are multiplied
                                     # by lr_drop for the rest of the run; 0 = never
    lr_drop: float = 0.1             # the step schedule's factor (PyTorch's StepLR default)
    ema: float = 0.0                 # decay of the EMA of G's weights used for sampling; 0 = off


@dataclass
class TrainConfig:
    steps: int = 3000                # generator steps
    minutes: float = 0.0             # also stop after this much wall time per session, with a checkpoint (0: no limit)
    batch_size: int = 64
    n_critic: int = 1                # D steps per G step (Goodfellow et al. 2014, Alg. 1: k)
    g_steps: int = 1                 # GANs: G steps after each round of D steps (PacGAN's Stacked MNIST code: 2)
    seed: int = 0
    precision: Precision = "auto"    # auto (bf16 where native, fp16 on CUDA GPUs without it), fp32, bf16, fp16
    device: str = "auto"             # auto, cpu, cuda, cuda:N or mps
    log_every: int = 10
    sample_every: int = 250
    ckpt_every: int = 1000
    keep_ckpts: int = 3              # how many periodic checkpoints to keep (0 = all)
    n_grid: int = 64                 # fixed-noise samples rendered in each grid
    report: bool = True              # write report.html into the run at each checkpoint and at the end
    tensorboard: bool = False        # also write TensorBoard event files into the run (pip install genzoo[tensorboard])
    sync_bn: bool = False            # torchrun: batch norm on the global batch (default: per-rank statistics)
    compile: bool = False            # torch.compile the trained nets (off: on the CPU it costs ~30 s and gains nothing)


@dataclass
class WatchConfig:
    """Training diagnostics (genzoo.diagnostics): watchers, alerts and what each alert does."""
    enabled: bool = True
    every: int = 20                  # steps between cheap probes (D accuracy, gradient norms, weights finite)
    diversity_every: int = 100       # steps between sample probes (diversity, class/mode histogram)
    diversity_n: int = 256           # fixed-noise samples in a sample probe (2-D points: 1000)
    window: int = 200                # a condition must hold this many steps before it alerts
    warmup: int = 500                # no mode_collapse / oscillation alerts before this step
    osc_window: int = 600            # steps over which loss oscillation is measured
    loss_limit: float = 1000.0       # |loss| above this (or NaN/Inf) is divergence; x1000 for WGAN critics
    action: Action = "warn"          # default action of every alert: warn, stop, rollback
    d_saturated: AlertAction = ""    # per-alert action; empty = watch.action
    vanishing_g_gradient: AlertAction = ""
    mode_collapse: AlertAction = ""
    divergence: AlertAction = "stop" # a diverged run cannot usefully continue unless rolled back
    oscillation: AlertAction = ""
    lr_factor: float = 0.1           # rollback: multiply both learning rates by this
    max_rollbacks: int = 5


@dataclass
class Config:
    recipe: str = "dcgan"
    family: Family = "gan"           # gan, vae, ae or pix2pix
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)

    # --- conversion -------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> "Config":
        if not isinstance(d, dict):
            raise GenzooError(f"{source}: expected a mapping at the top level")
        cfg = cls()
        for key, value in d.items():
            if key in _SECTIONS:
                if not isinstance(value, dict):
                    raise GenzooError(f"{source}: '{key}' must be a mapping of fields")
                for sub, v in value.items():
                    cfg.set(f"{key}.{sub}", v, source=source)
            else:
                cfg.set(key, value, source=source)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    # --- overrides ---------------------------------------------------------------
    def set(self, key: str, value: Any, source: str = "--set") -> None:
        section, name = _resolve_key(key, source)
        target = getattr(self, section) if section else self
        full = f"{section}.{name}" if section else name
        setattr(target, name, check(full, _hint(type(target), name), value, source))

    def apply_overrides(self, items: list[str]) -> None:
        for item in items:
            if "=" not in item:
                raise GenzooError(f"--set expects key=value, got '{item}'")
            key, raw = item.split("=", 1)
            self.set(key.strip(), yaml.safe_load(raw) if raw.strip() else None)

    def validate(self, source: str = "config") -> None:
        """Check every value again (for settings assigned as attributes rather than through ``set``)."""
        for key in valid_keys():
            section, _, name = key.rpartition(".")
            target = getattr(self, section) if section else self
            check(key, _hint(type(target), name), getattr(target, name), source)


_SECTIONS = ("data", "model", "loss", "optim", "train", "watch")
_TOP = ("recipe", "family", "description")

def valid_keys() -> list[str]:
    keys = list(_TOP)
    proto = Config()
    for s in _SECTIONS:
        keys += [f"{s}.{f.name}" for f in fields(getattr(proto, s))]
    return keys


def _resolve_key(key: str, source: str) -> tuple[str | None, str]:
    if key in _TOP:
        return None, key
    if "." in key:
        section, name = key.split(".", 1)
        if section in _SECTIONS and name in {f.name for f in fields(getattr(Config(), section))}:
            return section, name
    else:
        owners = [s for s in _SECTIONS if key in {f.name for f in fields(getattr(Config(), s))}]
        if len(owners) == 1:
            return owners[0], key
        if len(owners) > 1:
            raise GenzooError(f"{source}: '{key}' is ambiguous; use one of "
                              + ", ".join(f"{o}.{key}" for o in owners))
    raise GenzooError(f"{source}: unknown config key '{key}'; " + _suggest(key))


def _suggest(key: str) -> str:
    """The closest valid keys, compared as written and by field name alone ('zdim' -> model.z_dim)."""
    name = key.rpartition(".")[2]
    score = {k: max(difflib.SequenceMatcher(None, key, k).ratio(),
                    difflib.SequenceMatcher(None, name, k.rpartition(".")[2]).ratio()) for k in valid_keys()}
    best = max(score.values())
    close = sorted((k for k in score if score[k] >= max(0.75, best - 0.05)), key=lambda k: -score[k])[:3]
    if close:
        return "did you mean " + " or ".join(close) + "?"
    return "keys are section.field, sections " + ", ".join(_SECTIONS) + " (a run's config.yaml lists every key)"


@functools.cache
def _hint(cls: type, name: str) -> Any:
    return get_type_hints(cls)[name]
