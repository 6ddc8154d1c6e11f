"""The GAN algorithm: one D step and one G step, for every objective in genzoo.losses.

The stabilising tricks (Salimans et al. 2016; Sønderby et al. 2017) are options here, not copies of the algo:
one-sided label smoothing, label flipping, instance noise, WGAN weight clipping,
the WGAN-GP penalty, consistency regularisation on augmented real images and an EMA of G
for sampling. So is conditioning (``cond``): CGAN with the label concatenated or projected
into D, ACGAN's auxiliary classifier and InfoGAN's codes, each combinable with any objective.
G's input is always one latent vector, z ⊕ code, so sampling, interpolation and evaluation
treat every GAN alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from genzoo.algos.base import EMA, Algo, frozen
from genzoo.data.augment import random_affine
from genzoo.losses import GANObjective, acgan_ce, consistency, gradient_penalty, info_terms


@dataclass
class GANOptions:
    """Everything about a GAN but its networks and optimizers. Field names are the config's (loss.*,
    model.*, optim.*), so ``training.build`` fills it by name; ``loss`` is loss.name."""
    loss: str = "nsgan"
    lsgan_a: float = 0.0                 # the objective's settings; GANObjective reads those that apply
    lsgan_b: float = 1.0
    lsgan_c: float = 1.0
    label_smoothing: float = 0.0
    label_flip: float = 0.0
    clip: float = 0.0
    gp_weight: float = 0.0
    instance_noise: float = 0.0          # stabilising tricks
    noise_anneal_steps: int = 1          # D steps over which the instance noise fades to 0
    top_k: float = 1.0                   # top-k training: the fraction of G's samples its update keeps, at the end
    top_k_half_life: int = 0             # D steps over which the kept fraction halves from 1 down to top_k
    ema: float = 0.0
    lr_half_life: int = 0                # D steps over which both learning rates halve; 0 keeps them constant
    lr_drop_at: int = 0                  # after this many D steps both learning rates are multiplied by lr_drop;
    lr_drop: float = 0.1                 # 0 never drops them
    z_dim: int = 100                     # the latent: z, then the code
    z_dist: str = "normal"
    z_scale: float = 1.0
    z_warmup: int = 0
    cond: str = "none"                   # conditioning: none, concat, projection, acgan, info
    num_classes: int = 10
    info_cat: int = 10
    info_cont: int = 2
    aux_weight: float = 1.0
    info_weight_cat: float = 1.0
    info_weight_cont: float = 0.1
    consistency: float = 0.0             # CR-GAN weight and its augmentation
    consistency_shift: int = 2
    consistency_rotate: float = 15.0
    consistency_scale: float = 0.1
    consistency_flip: bool = False
    pack: int = 1                        # PacGAN: D judges groups of this many samples, all real or all fake


class GAN(Algo):
    adversarial = True  # n_critic D steps per G step
    reuses_fake = True  # G's step reuses the G forward of D's last step (Algo.train_step)

    def __init__(self, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                 options: GANOptions | None = None, *, device: torch.device, precision: str = "fp32",
                 channels_last: bool = False):
        super().__init__(device, precision)
        o = self.options = options or GANOptions()
        self.G, self.D, self.z_dim = G, D, o.z_dim
        self.cond, self.num_classes = o.cond, o.num_classes
        self.info_cat, self.info_cont = (o.info_cat, o.info_cont) if o.cond == "info" else (0, 0)
        self.labelled = o.cond in ("concat", "projection", "acgan")
        self.code_classes = o.num_classes if self.labelled else self.info_cat  # one-hot part of the code
        self.z_dist, self.z_scale, self.z_warmup = o.z_dist, o.z_scale, o.z_warmup
        self.objective = GANObjective.create(o.loss, o)
        self.loss_name, self.loss = o.loss, self.objective.row
        self.cr_aug = dict(shift=o.consistency_shift, rotate=o.consistency_rotate, scale=o.consistency_scale,
                           flip=o.consistency_flip)
        self.noise0, self.noise_steps, self.d_steps_done = o.instance_noise, max(1, o.noise_anneal_steps), 0
        self.pack = o.pack
        self.nets = {"G": G, "D": D}
        self.opts = {"G": opt_g, "D": opt_d}
        self.finish_nets(channels_last)
        self.ema = EMA(G, o.ema) if o.ema > 0 else None
        if self.ema:
            self.nets["G_ema"] = self.ema.net
        self.start_lr_schedule(o.lr_half_life, o.lr_drop_at, o.lr_drop)
        self.probe = False  # set by the training loop on watcher steps: add accuracies and gradient norms

    # -- state: D's step count drives the instance-noise annealing, so it is part of exact resume --
    def state_dict(self) -> dict:
        self._refresh_ema()  # a checkpoint's averaged G carries batch-norm statistics of its own
        return {**super().state_dict(), "d_steps_done": self.d_steps_done}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.d_steps_done = int(state.get("d_steps_done", 0))

    @property
    def schedule_step(self) -> int:
        return self.d_steps_done  # the learning-rate schedule counts D steps

    # -- noise ----------------------------------------------------------------------
    def sample_z(self, n: int, generator: torch.Generator | None = None,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latents (n, z_dim + code size): z Gaussian or uniform on [-1, 1], times ``z_scale``,
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
        latent = self.draw_shard(self.sample_z, n)  # distributed: drawn for the global batch, this rank's slice
        if self.z_warmup and self.d_steps_done < self.z_warmup:
            latent[:, :self.z_dim] *= self.d_steps_done / self.z_warmup
        return latent

    def labels_of(self, latent: torch.Tensor) -> torch.Tensor | None:
        """The class (or InfoGAN category) each latent was drawn with."""
        k = self.code_classes
        return latent[:, self.z_dim:self.z_dim + k].argmax(1) if k else None

    def _pack(self, x: torch.Tensor) -> torch.Tensor:
        """PacGAN packing (Lin et al. 2018, arXiv:1712.04086, Sec. 3): consecutive groups of ``pack`` samples
        become one input of D, vectors concatenated (points) or channels stacked (images). Every group is all
        real or all fake, since real and fake batches are packed separately."""
        m = self.pack
        if m == 1:
            return x
        assert x.shape[0] % m == 0, (x.shape, m)
        return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])  # (B, C, ...) -> (B / m, m * C, ...)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """D's logit for each sample of x judged alone: as a pack of ``pack`` copies of itself. (N,)"""
        return self.D(self._pack(x.repeat_interleave(self.pack, 0)))

    def _disc(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits and its auxiliary output (ACGAN classes, InfoGAN Q) for images x with labels y.
        With packing, one logit per group of ``pack`` samples."""
        if self.cond == "none":
            return self.D(self._pack(x)), None
        return self.D.scores(x, y if self.cond in ("concat", "projection") else None)

    def _aux_loss(self, aux: torch.Tensor, latent: torch.Tensor, out: dict,
                  labels: torch.Tensor | None = None) -> torch.Tensor:
        """ACGAN: the auxiliary classifier's cross-entropy on the intended class (``labels`` for real images).
        InfoGAN: L_I, Q's cross-entropy on the categorical code plus the Gaussian term of the continuous ones."""
        o = self.options
        if self.cond == "acgan":
            ce = acgan_ce(aux, self.labels_of(latent) if labels is None else labels)
            out["aux_ce_real" if labels is not None else "aux_ce_fake"] = ce.item()
            return o.aux_weight * ce
        ce, gauss = info_terms(aux, latent[:, self.z_dim:], self.info_cat)
        out["l_i"] = math.log(self.info_cat) - ce.item()  # lower bound on I(c_cat; x); at most H(c) = ln K
        out["info_cont"] = gauss.item()
        return o.info_weight_cat * ce + o.info_weight_cont * gauss

    def _consistency(self, real: torch.Tensor, r: torch.Tensor, r_aux: torch.Tensor | None,
                     y_real: torch.Tensor | None) -> torch.Tensor:
        """Consistency regularisation (Zhang et al. 2020, CR-GAN) between D on real images and on randomly
        shifted / rotated / zoomed copies: its logit, and the categorical prediction of a class head (ACGAN)
        or InfoGAN's Q, so the categories cannot rest on slant or position. Q's continuous codes stay free."""
        with self.autocast():
            aug = random_affine(real, **self.cr_aug, shard=(self.rank, self.world))
            t, t_aux = self._disc(self._instance_noise(aug), y_real)
        return consistency(r, t, r_aux, t_aux, self.code_classes)  # CGAN's D has no head (r_aux is None)

    def _instance_noise(self, x: torch.Tensor) -> torch.Tensor:
        """Gaussian noise on D's inputs, annealed linearly to 0 (Sønderby et al. 2017)."""
        if not self.noise0:
            return x
        std = self.noise0 * max(0.0, 1.0 - self.d_steps_done / self.noise_steps)
        return x + std * self.randn_shard(x) if std > 0 else x

    def _d_loss(self, r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return self.objective.d_loss(r, f, rand_like=self.rand_shard)

    # -- steps ----------------------------------------------------------------------
    def d_step(self, batch: dict, keep_fake: bool = False) -> dict:
        """One D step. ``keep_fake``: G's forward keeps its graph, and (latent, fake) wait in ``self._kept``
        for ``g_step`` to reuse."""
        real = self.to_input(batch["x"])
        y_real = batch["y"].to(self.device) if self.labelled else None
        latent = self._train_latent(real.shape[0])
        with torch.set_grad_enabled(keep_fake), self.autocast():
            kept = self.G(latent)
        fake = kept.detach()
        self._kept = (latent, kept) if keep_fake else None
        with self.autocast():
            r, r_aux = self._disc(self._instance_noise(real), y_real)
            f, f_aux = self._disc(self._instance_noise(fake), self.labels_of(latent))
        r, f = r.float(), f.float()
        extra = {}
        loss = self._d_loss(r, f) + self._d_extras(real, fake, latent, y_real, r, r_aux, f_aux, extra)
        self.schedule_lr(self.d_steps_done)  # G's step that follows uses the same rates
        norm = self.optimize("D", loss, self.D if self.probe else None)
        out = {}
        if self.probe:
            out.update(self.objective.accuracy(r.detach(), f.detach()), grad_norm_d=norm)
        self.objective.clip_weights(self.D)
        self.d_steps_done += 1
        return {**out, **extra, "loss_d": loss.item(), **self.objective.d_scalars(r.detach(), f.detach())}

    def _d_extras(self, real, fake, latent, y_real, r, r_aux, f_aux, out: dict) -> torch.Tensor | float:
        """D's terms beyond the objective: the auxiliary losses, consistency and the gradient penalty."""
        loss = 0.0
        if self.cond == "acgan":  # D's classifier learns from real and generated images
            loss = self._aux_loss(r_aux, latent, out, labels=y_real) + self._aux_loss(f_aux, latent, out)
        elif self.cond == "info":  # Q (sharing D's body) learns to recover the code from G's images
            loss = self._aux_loss(f_aux, latent, out)
        if self.options.consistency:
            cr = self._consistency(real, r, r_aux, y_real)
            loss = loss + self.options.consistency * cr
            out["consistency"] = cr.item()
        if self.objective.gp_weight:
            critic = self.D if self.cond in ("none", "acgan", "info") else (lambda x: self.D(x, y_real))
            real_p = self._pack(real)
            eps = self.rand_shard(real_p.new_empty(real_p.shape[0], *([1] * (real_p.dim() - 1)), dtype=torch.float32))
            with self.autocast():
                gp, norms = gradient_penalty(critic, real_p, self._pack(fake.float()), eps=eps,
                                             scale=self.loss_scale("D"))  # per packed input
            loss = loss + self.objective.gp_weight * gp.float()
            out["gp"], out["gp_grad_norm"] = gp.item(), norms.mean().item()
        return loss

    def g_step(self, batch: dict | None, fake: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict:
        """One G step on fresh latents for ``batch``'s size, or on ``fake`` = (latent, G(latent)) kept from
        D's step. D's weights take no gradient here (only its input does), which saves their backward."""
        if fake is None:
            latent = self._train_latent(batch["x"].shape[0])
            with self.autocast():
                images = self.G(latent)
        else:
            latent, images = fake
        with frozen(self.D):
            with self.autocast():
                f, f_aux = self._disc(images, self.labels_of(latent))
            keep = self.top_k_fraction()
            loss = self.objective.g_loss(self.objective.most_real(f.float(), keep) if keep < 1 else f.float())
            out = {"loss_g": loss.item()}
            if keep < 1:
                out["top_k"] = keep
            if f_aux is not None:  # ACGAN: G wants its images classified as intended; InfoGAN: code recoverable
                loss = loss + self._aux_loss(f_aux, latent, out)
            norm = self.optimize("G", loss, self.G if self.probe else None)
        if self.probe:
            out["grad_norm_g"] = norm
        if self.ema:
            self.ema.update(self.G)
        return out

    def top_k_fraction(self) -> float:
        """Top-k training's kept fraction of G's samples (packs, with packing) at this D step: it starts at 1 and
        halves every ``top_k_half_life`` D steps down to ``top_k`` (Sinha et al. 2020 decay k by 0.99 an epoch to
        a floor of half the batch); ``top_k`` from the start when the half-life is 0. Distributed: per rank."""
        o = self.options
        if o.top_k >= 1:
            return 1.0
        if not o.top_k_half_life:
            return o.top_k
        return max(o.top_k, 0.5 ** (self.d_steps_done / o.top_k_half_life))

    # -- sampling -------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) in eval mode (EMA weights when enabled); leaves training state untouched."""
        net = self.sampling_net()
        was_training = net.training
        net.eval()
        with self.autocast():
            x = net(z.to(self.device))
        net.train(was_training)
        return x.float()

    def sampling_net(self) -> nn.Module:
        """The G that samples: the averaged G (its batch-norm statistics brought up to date) when the EMA is on."""
        self._refresh_ema()
        return self.ema.net if self.ema else self.G

    def _refresh_ema(self) -> None:
        """The averaged G's batch-norm statistics, recomputed from its own activations (``EMA.refresh``)."""
        if self.ema:
            with torch.no_grad(), self.autocast():
                self.ema.refresh(lambda g: self.sample_z(256, g))
