"""Autoencoders and VAEs: one ``step`` per batch, for the AE, the VAE, the β-VAE and the conditional VAE.

The VAE maximises the ELBO, log p(x|z) - β KL(q(z|x) || p(z)), with z = μ + σ ε (the
reparameterisation trick; Kingma & Welling 2014), β = 1 for the VAE and β > 1 for the β-VAE
(Higgins et al. 2017). With ``iwae_k > 1`` it maximises the importance-weighted bound instead
(Burda et al. 2016). The conditional VAE sees the label in the encoder (a broadcast map, like
CGAN's D) and in the decoder (the latent is z ⊕ one-hot label, like CGAN's G; Sohn et al. 2015).
The deterministic autoencoder minimises the reconstruction term only.

Like the GAN algo it offers ``sample_z``/``generate`` (prior samples through the decoder), so
sample grids, interpolation and the distribution metrics treat both families alike.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

from genzoo.algos.base import Algo
from genzoo.losses.vae import decoder_mean, gaussian_kl, gaussian_log_density, iwae_bound, log_likelihood
from genzoo.nets.vae import Encoder, PixelScale


class VAE(Algo):
    def __init__(self, E: Encoder, Dec: nn.Module, opt: torch.optim.Optimizer, *, z_dim: int, device: torch.device,
                 likelihood: str = "bernoulli", scale: PixelScale | None = None, beta: float = 1.0,
                 kl_warmup: int = 0, iwae_k: int = 1, binarize: bool = False, num_classes: int = 0,
                 lr_half_life: int = 0, lr_drop_at: int = 0, lr_drop: float = 0.1,
                 precision: str = "fp32", channels_last: bool = False):
        super().__init__(device, precision)
        self.E, self.Dec, self.scale, self.z_dim = E, Dec, scale, z_dim
        self.stochastic = E.stochastic
        self.likelihood, self.beta, self.kl_warmup, self.iwae_k = likelihood, beta, kl_warmup, iwae_k
        self.binarize = binarize
        self.num_classes = self.code_classes = num_classes  # > 0: conditional VAE (labels 0..num_classes-1)
        self.labelled = num_classes > 0
        self.cond = "concat" if self.labelled else "none"
        self.nets = {"E": E, "Dec": Dec} | ({"scale": scale} if scale is not None else {})
        self.opts = {"VAE": opt}
        self.finish_nets(channels_last)
        self.start_lr_schedule(lr_half_life, lr_drop_at, lr_drop)
        self.steps_done = 0

    # -- state: the step count drives the KL warm-up, so it is part of exact resume ----------------
    def state_dict(self) -> dict:
        return {**super().state_dict(), "steps_done": self.steps_done}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.steps_done = int(state.get("steps_done", 0))

    @property
    def schedule_step(self) -> int:
        return self.steps_done

    # -- data ------------------------------------------------------------------------------------
    def prepare(self, x: torch.Tensor, fresh_binarisation: bool = True) -> torch.Tensor:
        """Images in [-1, 1] -> targets in [0, 1]; binarised by sampling each pixel (Burda et al. 2016,
        "dynamic binarisation": a new draw every time the image is seen) when the likelihood is Bernoulli."""
        x01 = (self.to_input(x) + 1) / 2
        if self.binarize and fresh_binarisation:  # distributed: drawn for the global batch, this rank's slice
            n = x01.shape[0]
            return self.draw_shard(lambda m: torch.bernoulli(x01.repeat(m // n, *[1] * (x01.dim() - 1))), n)
        return x01

    def _labels(self, batch: dict) -> torch.Tensor | None:
        return batch["y"].to(self.device) if self.labelled else None

    def _decode(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if y is not None:
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], 1)
        return self.Dec(z)

    def _log_sigma(self) -> torch.Tensor | None:
        return self.scale() if self.scale is not None else None

    # -- the objective ---------------------------------------------------------------------------
    def terms(self, x01: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One-sample ELBO terms per sample: 'rec' = -log p(x|z), 'kl' (0 for the AE). (B,) each."""
        mu, logvar = self.E(x01 * 2 - 1, y)
        z = mu if logvar is None else mu + self.randn_shard(mu) * (0.5 * logvar).exp()
        logits = self._decode(z, y).float()
        rec = -log_likelihood(self.likelihood, logits, x01, self._log_sigma())
        kl = torch.zeros_like(rec) if logvar is None else gaussian_kl(mu.float(), logvar.float())
        return {"rec": rec, "kl": kl, "logits": logits}

    def log_weights(self, x01: torch.Tensor, y: torch.Tensor | None, k: int) -> torch.Tensor:
        """log p(x, z_i) - log q(z_i | x) for k posterior samples z_i per image. (k, B)"""
        if not self.stochastic:
            raise ValueError("a deterministic autoencoder has no posterior to sample")
        mu, logvar = self.E(x01 * 2 - 1, y)
        mu, logvar = mu.float(), logvar.float()
        B = x01.shape[0]
        eps = self.draw_shard(lambda m: torch.randn(k, m, *mu.shape[1:], device=mu.device), B, dim=1)
        z = mu[None] + eps * (0.5 * logvar[None]).exp()                                            # (k, B, Z)
        yy = None if y is None else y.repeat(k)
        logits = self._decode(z.flatten(0, 1), yy).float()                                         # (k*B, C, H, W)
        x_rep = x01.expand(k, *x01.shape).flatten(0, 1)
        ll = log_likelihood(self.likelihood, logits, x_rep, self._log_sigma()).view(k, B)
        return ll + gaussian_log_density(z) - gaussian_log_density(z, mu[None], logvar[None])

    def beta_now(self) -> float:
        """β, ramped linearly from 0 over the first ``kl_warmup`` steps (Sønderby et al. 2016)."""
        if self.kl_warmup <= 0:
            return self.beta
        return self.beta * min(1.0, self.steps_done / self.kl_warmup)

    def step(self, batch: dict) -> dict:
        x01 = self.prepare(batch["x"])
        y = self._labels(batch)
        with self.autocast():
            if self.iwae_k > 1:
                bound = iwae_bound(self.log_weights(x01, y, self.iwae_k))
                loss, out = -bound.mean(), {"iwae": bound.mean().item()}
            else:
                t = self.terms(x01, y)
                loss = (t["rec"] + self.beta_now() * t["kl"]).mean()
                out = {"rec": t["rec"].mean().item(), "kl": t["kl"].mean().item()}
                if self.stochastic:
                    out["elbo"] = -(t["rec"] + t["kl"]).mean().item()
        self.schedule_lr(self.steps_done)
        self.optimize("VAE", loss)
        self.steps_done += 1
        out["loss"] = loss.item()
        if self.kl_warmup:
            out["beta"] = self.beta_now()
        return out

    # -- latents, encodings and samples ----------------------------------------------------------
    def sample_z(self, n: int, generator: torch.Generator | None = None,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """Prior draws z ~ N(0, I), with the one-hot label appended for the conditional VAE. (n, z_dim [+ K])"""
        z = torch.randn(n, self.z_dim, generator=generator)
        if self.labelled:
            y = torch.randint(0, self.num_classes, (n,), generator=generator) if labels is None else labels.cpu()
            z = torch.cat([z, F.one_hot(y, self.num_classes).float()], 1)
        return z.to(self.device)

    def labels_of(self, latent: torch.Tensor) -> torch.Tensor | None:
        return latent[:, self.z_dim:].argmax(1) if self.labelled else None

    @contextlib.contextmanager
    def _eval(self):
        """All nets in eval mode (batch norm on running statistics), restored afterwards."""
        modes = {k: m.training for k, m in self.nets.items()}
        for m in self.nets.values():
            m.eval()
        try:
            yield
        finally:
            for k, m in self.nets.items():
                m.train(modes[k])

    @torch.no_grad()
    def generate(self, latent: torch.Tensor) -> torch.Tensor:
        """Decoder means for latents z [⊕ one-hot label], as images in [-1, 1]."""
        latent = latent.to(self.device)
        with self._eval(), self.autocast():
            logits = self.Dec(latent)
        return decoder_mean(self.likelihood, logits.float()) * 2 - 1

    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Posterior means (AE: codes) of images in [-1, 1], as latents G understands: z [⊕ one-hot y]."""
        with self._eval(), self.autocast():
            mu, _ = self.E(self.to_input(x), None if y is None else y.to(self.device))
        mu = mu.float()
        if self.labelled:
            mu = torch.cat([mu, F.one_hot(y.to(self.device), self.num_classes).float()], 1)
        return mu

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder means at the posterior means, as images in [-1, 1]."""
        return self.generate(self.encode(x, y))
