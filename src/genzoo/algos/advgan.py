"""AdvGAN (Xiao et al. 2018, arXiv:1801.02610): a generator learns a perturbation that fools a fixed classifier.

G maps x to δ = ε·tanh(G(x)) (an L∞ bound, as the paper's MNIST setting ε = 0.3); D tells x from x + δ and keeps
the perturbed images on the data manifold; the loss on the target classifier is C&W's margin
max(Z_y − max_{i≠y} Z_i, −κ) with κ = 0 (Eq. 4, untargeted); a hinge max(0, ‖δ‖₂ − c) keeps δ small (Eq. 3).
    L_G = w_adv·L_adv + L_GAN + w_hinge·L_hinge
Images are in [-1, 1] here, so ε and c (in [0, 1] pixel units) double.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from genzoo.algos.base import Algo
from genzoo.algos.pix2pix import triplets
from genzoo.losses import GANObjective


def cw_margin(logits: torch.Tensor, y: torch.Tensor, kappa: float = 0.0) -> torch.Tensor:
    """max(Z_y − max_{i≠y} Z_i, −κ) per example (Carlini & Wagner 2017, f_6 untargeted). (B,)"""
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.masked_fill(nn.functional.one_hot(y, logits.shape[1]).bool(), -float("inf")).amax(1)
    return (true - other).clamp_min(-kappa)


class AdvGAN(Algo):
    adversarial = True  # n_critic D steps per G step

    def __init__(self, G: nn.Module, D: nn.Module, target: nn.Module, opt_g, opt_d, *, device: torch.device,
                 eps: float = 0.3, objective: GANObjective | None = None, adv_weight: float = 10.0,
                 hinge_weight: float = 1.0, hinge_c: float = 3.0, precision: str = "fp32"):
        super().__init__(device, precision)
        self.G, self.D, self.eps = G, D, eps
        self.target = target.eval().requires_grad_(False).to(device)  # fixed; rebuilt from the config, not saved
        self.objective = objective or GANObjective.create("lsgan")
        self.adv_weight, self.hinge_weight, self.hinge_c = adv_weight, hinge_weight, hinge_c
        self.nets, self.opts = {"G": G, "D": D}, {"G": opt_g, "D": opt_d}
        self.finish_nets(False)
        self.probe = False

    def perturbation(self, x: torch.Tensor) -> torch.Tensor:
        """δ in [-1, 1] image units, |δ| ≤ 2ε."""
        return 2 * self.eps * torch.tanh(self.G(x))

    def attack(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.perturbation(x)
        return (x + d).clamp(-1, 1), d

    def d_step(self, batch: dict) -> dict:
        x = self.to_input(batch["x"])
        with torch.no_grad():
            fake, _ = self.attack(x)
        r, f = self.D(x), self.D(fake)
        loss = self.objective.d_loss(r, f)
        norm = self.optimize("D", loss, self.D if self.probe else None)
        out = {"grad_norm_d": norm} if self.probe else {}
        return out | {"loss_d": loss.item(), **self.objective.d_scalars(r.detach(), f.detach())}

    def g_step(self, batch: dict) -> dict:
        x, y = self.to_input(batch["x"]), self.to_input(batch["y"])
        fake, d = self.attack(x)
        logits = self.target(fake)
        adv = cw_margin(logits, y).mean()
        gan = self.objective.g_loss(self.D(fake))
        size = (d / 2).flatten(1).norm(dim=1)  # L2 in [0, 1] pixel units
        hinge = (size - self.hinge_c).clamp_min(0).mean()
        loss = self.adv_weight * adv + gan + self.hinge_weight * hinge
        norm = self.optimize("G", loss, self.G if self.probe else None)
        out = {"grad_norm_g": norm} if self.probe else {}
        fooled = (logits.argmax(1) != y).float().mean().item()
        return out | {"loss_g": loss.item(), "loss_adv": adv.item(), "loss_g_gan": gan.item(),
                      "hinge": hinge.item(), "l2": size.mean().item(), "fooled": fooled}

    # -- the training grids: clean | perturbation, magnified | adversarial ------------------------------------
    preview_nrow = 12

    def preview_inputs(self, data, n: int, generator: torch.Generator | None = None) -> dict:
        return data.batch(torch.arange(min(n, 16, len(data))))

    @torch.no_grad()
    def preview(self, batch: dict) -> torch.Tensor:
        was = self.G.training
        self.G.eval()
        x = self.to_input(batch["x"])
        fake, d = self.attack(x)
        self.G.train(was)
        mag = d / d.flatten(1).abs().amax(1).clamp_min(1e-8).view(-1, 1, 1, 1)
        return triplets(x.cpu(), mag.cpu(), fake.cpu())
