"""GAN objectives as pure functions of D's logits. Each returns a scalar to *minimise*.

Notation: r = D(x) logits on real data, f = D(G(z)) logits on generated data,
sigma = sigmoid. log sigma(t) = -softplus(-t) and log(1 - sigma(t)) = -softplus(t), so every
log-loss below is computed stably from logits, never through Sigmoid + BCELoss.

Targets for the log-losses may be tensors, which is how one-sided label smoothing
(real target 0.9) and label flipping (per-sample swapped targets) enter.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import torch
import torch.nn.functional as F

Target = float | torch.Tensor


def _bce(logits: torch.Tensor, target: Target) -> torch.Tensor:
    if not torch.is_tensor(target):
        target = torch.full_like(logits, float(target))
    return F.binary_cross_entropy_with_logits(logits, target)


# -- the 2014 GAN: D maximises log D(x) + log(1 - D(G(z))) (Goodfellow et al. 2014, Eq. 1) --
def log_d(r: torch.Tensor, f: torch.Tensor, real_target: Target = 1.0, fake_target: Target = 0.0) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))] (binary cross-entropy with targets 1 and 0)."""
    return _bce(r, real_target) + _bce(f, fake_target)


def minimax_g(f: torch.Tensor) -> torch.Tensor:
    """Saturating: G minimises E[log(1 - D(G(z)))] = -E[softplus(f)]."""
    return -F.softplus(f).mean()


def nsgan_g(f: torch.Tensor) -> torch.Tensor:
    """Non-saturating: G maximises E[log D(G(z))], i.e. minimises E[softplus(-f)] (Goodfellow et al. 2014, Sec. 3)."""
    return F.softplus(-f).mean()


# -- LSGAN (Mao et al. 2017, Eq. 2): labels a (fake), b (real), c (what G wants D to believe) --
def lsgan_d(r: torch.Tensor, f: torch.Tensor, a: float = 0.0, b: Target = 1.0) -> torch.Tensor:
    return 0.5 * ((r - b).pow(2).mean() + (f - a).pow(2).mean())


def lsgan_g(f: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    return 0.5 * (f - c).pow(2).mean()


# -- WGAN (Arjovsky et al. 2017): critic maximises E[D(x)] - E[D(G(z))] --
def wgan_d(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return f.mean() - r.mean()


def wgan_g(f: torch.Tensor) -> torch.Tensor:
    return -f.mean()


# -- hinge (Lim & Ye 2017; Miyato et al. 2018) --
def hinge_d(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean()


def hinge_g(f: torch.Tensor) -> torch.Tensor:
    return -f.mean()


@dataclass(frozen=True)
class GANLoss:
    """One objective's registry row: its two functions and what callers need to know about D's output.

    ``kind`` says how D's logits read:
      probability  sigmoid(logit) is D's probability that x is real; targets 1 / 0 (the log-losses)
      labels       the raw output regresses to labels (LSGAN's b for real, a for fake)
      margin       a raw score trained to clear a margin around 0 (hinge)
      critic       an unbounded critic; mean D(x) - mean D(G(z)) estimates the Wasserstein distance
    """
    d: Callable[..., torch.Tensor]
    g: Callable[..., torch.Tensor]
    kind: Literal["probability", "labels", "margin", "critic"]
    params: dict[str, str] = field(default_factory=dict)  # keyword of d or g -> the loss.* setting it comes from
    targets: tuple[str, str] | None = None  # d's keywords for the real / fake targets: smoothing and flipping move them
    tricks: tuple[str, ...] = ()            # the loss.* tricks that apply to this objective
    saturating: bool = False                # G's gradient vanishes when D rejects its samples (minimax)

    @property
    def probability(self) -> bool:
        """Whether ``readable`` returns a probability in [0, 1]."""
        return self.kind == "probability"

    @property
    def critic(self) -> bool:
        return self.kind == "critic"

    @property
    def uses_targets(self) -> bool:
        return self.targets is not None

    def readable(self, logits: torch.Tensor) -> torch.Tensor:
        """D's output as people read it: a probability for the log-losses, the raw score otherwise."""
        return torch.sigmoid(logits) if self.probability else logits


_LOG = dict(kind="probability", targets=("real_target", "fake_target"), tricks=("label_smoothing", "label_flip"))
GAN_LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss(log_d, minimax_g, **_LOG, saturating=True),
    "nsgan": GANLoss(log_d, nsgan_g, **_LOG),
    "lsgan": GANLoss(lsgan_d, lsgan_g, "labels", params={"a": "lsgan_a", "b": "lsgan_b", "c": "lsgan_c"},
                     targets=("b", "a"), tricks=("label_smoothing", "label_flip")),
    "wgan": GANLoss(wgan_d, wgan_g, "critic", tricks=("clip",)),
    "wgan-gp": GANLoss(wgan_d, wgan_g, "critic", tricks=("gp_weight",)),
    "hinge": GANLoss(hinge_d, hinge_g, "margin"),
}


def _keywords(fn: Callable) -> dict[str, Any]:
    """A function's keyword parameters with their defaults: an objective's default settings."""
    return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}


@dataclass(frozen=True)
class GANObjective:
    """One objective with its settings bound: the one place where D's logits become D's and G's losses,
    readable outputs and accuracies, shared by the GAN and pix2pix algos. Build it with ``create``."""
    name: str
    d_kw: dict[str, float]          # d's parameters (the targets' labels among them), e.g. LSGAN's a, b
    g_kw: dict[str, float]          # g's parameters, e.g. LSGAN's c
    label_smoothing: float = 0.0    # one-sided: the real target is lowered by this (Salimans et al. 2016)
    label_flip: float = 0.0         # probability of swapping a sample's real / fake target in D's step
    clip: float = 0.0               # WGAN weight clipping (Arjovsky et al. 2017, Alg. 1)
    gp_weight: float = 0.0          # WGAN-GP lambda (Gulrajani et al. 2017, Alg. 1)

    @classmethod
    def create(cls, name: str, settings: Any = None) -> "GANObjective":
        """Bind objective ``name`` to ``settings`` (any object with the loss.* fields: LossConfig, GANOptions).
        Only the settings its registry row lists are read; the others stay off."""
        row = GAN_LOSSES[name]
        given = {k: float(getattr(settings, v)) for k, v in row.params.items() if hasattr(settings, v)}
        d_kw = {k: given.get(k, v) for k, v in _keywords(row.d).items()}
        g_kw = {k: given.get(k, v) for k, v in _keywords(row.g).items()}
        return cls(name, d_kw, g_kw, **{t: float(getattr(settings, t)) for t in row.tricks if hasattr(settings, t)})

    @property
    def row(self) -> GANLoss:
        return GAN_LOSSES[self.name]

    @property
    def labels(self) -> tuple[float, float] | None:
        """D's (real, fake) targets before smoothing and flipping; None for margin losses and critics."""
        t = self.row.targets
        return (self.d_kw[t[0]], self.d_kw[t[1]]) if t else None

    def d_loss(self, r: torch.Tensor, f: torch.Tensor, rand_like: Callable = torch.rand_like) -> torch.Tensor:
        """D's loss on real logits r and fake logits f, with label smoothing and flipping where they apply
        (``rand_like`` draws the flips; distributed training passes one that draws for the global batch)."""
        row = self.row
        if row.targets is None:
            return row.d(r, f, **self.d_kw)
        real, fake = self.labels
        real_t = torch.full_like(r, real - self.label_smoothing)
        fake_t = torch.full_like(f, fake)
        if self.label_flip:  # noisy labels: each target swapped with probability label_flip
            real_t = torch.where(rand_like(r) < self.label_flip, torch.full_like(r, fake), real_t)
            fake_t = torch.where(rand_like(f) < self.label_flip, torch.full_like(f, real), fake_t)
        return row.d(r, f, **{**self.d_kw, row.targets[0]: real_t, row.targets[1]: fake_t})

    def g_loss(self, f: torch.Tensor) -> torch.Tensor:
        return self.row.g(f, **self.g_kw)

    def most_real(self, f: torch.Tensor, fraction: float) -> torch.Tensor:
        """Top-k training (Sinha et al. 2020, arXiv:2002.06224): of G's samples' logits f, the
        ceil(fraction * n) that D scores as most realistic, so that G's loss, and its gradient, come from those
        alone. Realistic is a high logit, or for LSGAN one towards the real label b (a low one when b < a)."""
        f = f.reshape(-1)
        k = max(1, math.ceil(fraction * f.numel() - 1e-9))
        if k >= f.numel():
            return f
        lower_is_real = self.row.kind == "labels" and self.labels[0] < self.labels[1]
        idx = (-f if lower_is_real else f).topk(k).indices
        return f[idx]

    def readable(self, logits: torch.Tensor) -> torch.Tensor:
        return self.row.readable(logits)

    def threshold(self, r: torch.Tensor, f: torch.Tensor) -> float:
        """Where D's output splits real from fake: logit 0 (log-losses, hinge), the midpoint of LSGAN's
        labels, the midpoint of a critic's two mean scores."""
        if self.row.critic:
            return ((r.mean() + f.mean()) / 2).item()
        if self.row.kind == "labels":
            return sum(self.labels) / 2
        return 0.0

    def accuracy(self, r: torch.Tensor, f: torch.Tensor) -> dict[str, float]:
        t = self.threshold(r, f)
        return {"acc_real": (r > t).float().mean().item(), "acc_fake": (f <= t).float().mean().item()}

    def d_scalars(self, r: torch.Tensor, f: torch.Tensor) -> dict[str, float]:
        """What D's step logs about its outputs: mean readable outputs, and a critic's Wasserstein estimate."""
        out = {"d_real": self.readable(r).mean().item(), "d_fake": self.readable(f).mean().item()}
        if self.row.critic:
            out["wasserstein"] = (r.mean() - f.mean()).item()  # the critic's estimate of W(p_data, p_g)
        return out

    @torch.no_grad()
    def clip_weights(self, net: torch.nn.Module) -> None:
        """WGAN: clip D's weights to [-clip, clip] after every critic update (Arjovsky et al. 2017, Alg. 1)."""
        if self.clip:
            for p in net.parameters():
                p.clamp_(-self.clip, self.clip)
