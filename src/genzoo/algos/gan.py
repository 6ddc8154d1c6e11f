"""The GAN algorithm: one D step and one G step, for every objective in genzoo.losses.

The stabilising tricks of the seeds are options here, not copies of the algo:
one-sided label smoothing, label flipping, instance noise, WGAN weight clipping,
the WGAN-GP penalty, consistency regularisation on augmented real images and an EMA of G
for sampling. So is conditioning (``cond``): CGAN with the label concatenated or projected
into D, ACGAN's auxiliary classifier and InfoGAN's codes, each combinable with any objective.
G's input is always one latent vector, z ⊕ code, so sampling, interpolation and evaluation
treat every GAN alike.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from genzoo.algos.base import EMA, Algo, grad_norm
from genzoo.data.augment import random_affine
from genzoo.losses import GAN_LOSSES, gradient_penalty
from genzoo.losses.gan import mean_d_output


class GAN(Algo):
    def __init__(self, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                 loss: str = "nsgan", *, z_dim: int, device: torch.device, precision: str = "fp32",
                 lsgan_abc: tuple[float, float, float] = (0.0, 1.0, 1.0), clip: float = 0.0, gp_weight: float = 0.0,
                 label_smoothing: float = 0.0, label_flip: float = 0.0, instance_noise: float = 0.0,
                 noise_anneal_steps: int = 1, ema: float = 0.0, channels_last: bool = False,
                 cond: str = "none", num_classes: int = 10, info_codes: tuple[int, int] = (0, 0),
                 aux_weight: float = 1.0, info_weights: tuple[float, float] = (1.0, 0.1), z_dist: str = "normal",
                 z_scale: float = 1.0, z_warmup: int = 0, consistency: float = 0.0,
                 consistency_aug: dict | None = None):
        super().__init__(device, precision)
        if loss not in GAN_LOSSES:
            raise ValueError(f"unknown GAN loss {loss}")
        self.G, self.D, self.z_dim = G, D, z_dim
        self.cond, self.num_classes = cond, num_classes
        self.info_cat, self.info_cont = info_codes if cond == "info" else (0, 0)
        self.labelled = cond in ("concat", "projection", "acgan")
        self.code_classes = num_classes if self.labelled else self.info_cat  # one-hot part of the code
        self.aux_weight, self.info_weights = aux_weight, info_weights
        if z_dist not in ("normal", "uniform"):
            raise ValueError(f"unknown z distribution {z_dist}")
        if not z_scale > 0:
            raise ValueError(f"z_scale must be positive, got {z_scale}")
        self.z_dist, self.z_scale, self.z_warmup = z_dist, z_scale, z_warmup
        self.loss_name, self.loss = loss, GAN_LOSSES[loss]
        if consistency and not consistency_aug:  # the augmentation's settings live in the config (loss.consistency_*)
            raise ValueError("consistency regularisation needs consistency_aug (shift, rotate, scale, flip)")
        self.cr_weight, self.cr_aug = consistency, consistency_aug or {}
        self.a, self.b, self.c = lsgan_abc
        self.clip, self.gp_weight = clip, gp_weight
        self.smooth, self.flip = label_smoothing, label_flip
        self.noise0, self.noise_steps, self.d_steps_done = instance_noise, max(1, noise_anneal_steps), 0
        self.nets = {"G": G, "D": D}
        self.opts = {"G": opt_g, "D": opt_d}
        self.finish_nets(channels_last)
        self.ema = EMA(G, ema) if ema > 0 else None
        if self.ema:
            self.nets["G_ema"] = self.ema.net
        self.probe = False  # set by the training loop on watcher steps: add accuracies and gradient norms

    # -- state: D's step count drives the instance-noise annealing, so it is part of exact resume --
    def state_dict(self) -> dict:
        return {**super().state_dict(), "d_steps_done": self.d_steps_done}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.d_steps_done = int(state.get("d_steps_done", 0))

    # -- noise ----------------------------------------------------------------------
    def sample_z(self, n: int, generator: torch.Generator | None = None,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latents (n, z_dim + code size): z Gaussian (SEEDS 000) or uniform on [-1, 1], times ``z_scale``,
        then the code: a one-hot label (uniform, or ``labels``) for conditional GANs; for InfoGAN a uniform
        categorical code (one-hot) and continuous codes uniform on [-1, 1]."""
        if self.z_dist == "uniform":
            z = torch.rand(n, self.z_dim, generator=generator) * 2 - 1
        else:
            z = torch.randn(n, self.z_dim, generator=generator)
        if self.z_scale != 1.0:
            z = z * self.z_scale
        if self.labelled:
            y = torch.randint(0, self.num_classes, (n,), generator=generator) if labels is None else labels.cpu()
            z = torch.cat([z, F.one_hot(y, self.num_classes).float()], 1)
        elif self.cond == "info":
            c = torch.randint(0, self.info_cat, (n,), generator=generator) if labels is None else labels.cpu()
            u = torch.rand(n, self.info_cont, generator=generator) * 2 - 1
            z = torch.cat([z, F.one_hot(c, self.info_cat).float(), u], 1)
        return z.to(self.device)

    def _train_latent(self, n: int) -> torch.Tensor:
        """Latents for a training step. With ``z_warmup`` the noise part is faded in linearly over that many
        D steps (codes untouched), so early on G can vary its images only through the code."""
        latent = self.sample_z(n)
        if self.z_warmup and self.d_steps_done < self.z_warmup:
            latent[:, :self.z_dim] *= self.d_steps_done / self.z_warmup
        return latent

    def labels_of(self, latent: torch.Tensor) -> torch.Tensor | None:
        """The class (or InfoGAN category) each latent was drawn with."""
        k = self.code_classes
        return latent[:, self.z_dim:self.z_dim + k].argmax(1) if k else None

    def _disc(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits and its auxiliary output (ACGAN classes, InfoGAN Q) for images x with labels y."""
        if self.cond == "none":
            return self.D(x), None
        return self.D.scores(x, y if self.cond in ("concat", "projection") else None)

    def _aux_loss(self, aux: torch.Tensor, latent: torch.Tensor, out: dict,
                  labels: torch.Tensor | None = None) -> torch.Tensor:
        """ACGAN: cross-entropy of the auxiliary classifier on the intended class. InfoGAN: L_I, the
        variational bound on I(c; G(z, c)) (Chen et al. 2016, Eq. 5): cross-entropy for the categorical
        code, a unit-variance Gaussian log-likelihood (up to a constant) for the continuous codes."""
        if self.cond == "acgan":
            ce = F.cross_entropy(aux.float(), self.labels_of(latent) if labels is None else labels)
            out["aux_ce_real" if labels is not None else "aux_ce_fake"] = ce.item()
            return self.aux_weight * ce
        code = latent[:, self.z_dim:]
        ce = F.cross_entropy(aux[:, :self.info_cat].float(), code[:, :self.info_cat].argmax(1))
        mse = 0.5 * (aux[:, self.info_cat:].float() - code[:, self.info_cat:]).pow(2).sum(1).mean()
        out["l_i"] = math.log(self.info_cat) - ce.item()  # lower bound on I(c_cat; x); at most H(c) = ln K
        out["info_cont"] = mse.item()
        return self.info_weights[0] * ce + self.info_weights[1] * mse

    def _consistency(self, real: torch.Tensor, r: torch.Tensor, r_aux: torch.Tensor | None,
                     y_real: torch.Tensor | None) -> torch.Tensor:
        """Consistency regularisation (Zhang et al. 2020, CR-GAN): D should score a real image and a randomly
        shifted / rotated / zoomed copy alike, ||D(x) - D(T(x))||^2. With a class head (ACGAN) or InfoGAN's Q,
        its categorical prediction on T(x) is also pulled to the one on x (KL, target held fixed), so the
        categories cannot rest on slant or position; Q's continuous codes are left free to follow them."""
        with self.autocast():
            t, t_aux = self._disc(self._instance_noise(random_affine(real, **self.cr_aug)), y_real)
        cr = (t.float() - r).pow(2).mean()
        k = self.code_classes  # ACGAN's classes or InfoGAN's categories; CGAN's D has no head (r_aux is None)
        if r_aux is not None and k:
            target = F.softmax(r_aux[:, :k].float().detach(), 1)
            cr = cr + F.kl_div(F.log_softmax(t_aux[:, :k].float(), 1), target, reduction="batchmean")
        return cr

    def _instance_noise(self, x: torch.Tensor) -> torch.Tensor:
        """Gaussian noise on D's inputs, annealed linearly to 0 (Sønderby et al. 2017)."""
        if not self.noise0:
            return x
        std = self.noise0 * max(0.0, 1.0 - self.d_steps_done / self.noise_steps)
        return x + std * torch.randn_like(x) if std > 0 else x

    def _d_loss(self, r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "lsgan":
            return self.loss.d(r, f, a=self.a, b=self.b - self.smooth)
        if not self.loss.uses_targets:
            return self.loss.d(r, f)
        real_t = torch.full_like(r, 1.0 - self.smooth)          # one-sided: only the real target moves
        fake_t = torch.zeros_like(f)
        if self.flip:                                            # noisy labels (SEEDS 000)
            real_t = torch.where(torch.rand_like(r) < self.flip, torch.zeros_like(r), real_t)
            fake_t = torch.where(torch.rand_like(f) < self.flip, torch.ones_like(f), fake_t)
        return self.loss.d(r, f, real_target=real_t, fake_target=fake_t)

    # -- steps ----------------------------------------------------------------------
    def d_step(self, batch: dict) -> dict:
        real = self.to_input(batch["x"])
        B = real.shape[0]
        y_real = batch["y"].to(self.device) if self.labelled else None
        latent = self._train_latent(B)
        y_fake = self.labels_of(latent)
        with torch.no_grad(), self.autocast():
            fake = self.G(latent)
        with self.autocast():
            r, r_aux = self._disc(self._instance_noise(real), y_real)
            f, f_aux = self._disc(self._instance_noise(fake), y_fake)
        r, f = r.float(), f.float()
        loss = self._d_loss(r, f)
        extra = {}
        if self.cond == "acgan":  # D's classifier learns from real and generated images
            loss = loss + self._aux_loss(r_aux, latent, extra, labels=y_real) + self._aux_loss(f_aux, latent, extra)
        elif self.cond == "info":  # Q (sharing D's body) learns to recover the code from G's images
            loss = loss + self._aux_loss(f_aux, latent, extra)
        if self.cr_weight:
            cr = self._consistency(real, r, r_aux, y_real)
            loss = loss + self.cr_weight * cr
            extra["consistency"] = cr.item()
        if self.gp_weight:
            critic = self.D if self.cond in ("none", "acgan", "info") else (lambda x: self.D(x, y_real))
            with self.autocast():
                gp, norms = gradient_penalty(critic, real, fake.float())
            loss = loss + self.gp_weight * gp.float()
            extra["gp"], extra["gp_grad_norm"] = gp.item(), norms.mean().item()
        self.opts["D"].zero_grad(set_to_none=True)
        loss.backward()
        out = {}
        if self.probe:
            out.update(self._accuracy(r.detach(), f.detach()), grad_norm_d=grad_norm(self.D))
        self.opts["D"].step()
        if self.clip:  # Arjovsky et al. 2017, Alg. 1: clip after every critic update
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-self.clip, self.clip)
        self.d_steps_done += 1
        out.update(extra)
        out.update(loss_d=loss.item(), d_real=mean_d_output(self.loss_name, r),
                   d_fake=mean_d_output(self.loss_name, f))
        if self.loss.critic:
            out["wasserstein"] = (r.mean() - f.mean()).item()  # the critic's estimate of W(p_data, p_g)
        return out

    def _accuracy(self, r: torch.Tensor, f: torch.Tensor) -> dict:
        """D's accuracy at telling real from fake: logits split at 0 (log-losses, hinge), LSGAN
        outputs at the midpoint of its labels, critic scores at the midpoint of the two means."""
        if self.loss_name == "lsgan":
            t = (self.a + self.b) / 2
        elif self.loss.critic:
            t = ((r.mean() + f.mean()) / 2).item()
        else:
            t = 0.0
        return {"acc_real": (r > t).float().mean().item(), "acc_fake": (f <= t).float().mean().item()}

    def g_step(self, batch: dict) -> dict:
        B = batch["x"].shape[0]
        latent = self._train_latent(B)
        with self.autocast():
            f, f_aux = self._disc(self.G(latent), self.labels_of(latent))
        f = f.float()
        loss = self.loss.g(f, c=self.c) if self.loss_name == "lsgan" else self.loss.g(f)
        out = {"loss_g": loss.item()}
        if f_aux is not None:  # ACGAN: G wants its images classified as intended; InfoGAN: the code recoverable
            loss = loss + self._aux_loss(f_aux, latent, out)
        self.opts["G"].zero_grad(set_to_none=True)
        loss.backward()
        if self.probe:
            out["grad_norm_g"] = grad_norm(self.G)
        self.opts["G"].step()
        if self.ema:
            self.ema.update(self.G)
        return out

    # -- sampling -------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) in eval mode (EMA weights when enabled); leaves training state untouched."""
        net = self.ema.net if self.ema else self.G
        was_training = net.training
        net.eval()
        with self.autocast():
            x = net(z.to(self.device))
        net.train(was_training)
        return x.float()
