"""pix2pix: a conditional GAN plus L1 for paired image-to-image translation (Isola et al. 2017).

G minimises L_cGAN(G, D) + λ·L1(G), λ = 100 (Sec. 4.2); D sees (condition, image) pairs and
judges patches. L1 alone recovers the low frequencies but averages over the plausible outputs,
which is why it looks blurry and greyish (Isola et al. 2017, Sec. 4.2); the adversarial term pushes the output
onto the image manifold. The paper's ablation (Table 1) is the ``mode`` option:

  l1+cgan   the full objective (default)
  l1        no discriminator at all
  cgan      the adversarial term only (λ = 0)
  l1+gan    L1 plus an unconditional D that sees only the output

Any objective of genzoo.losses works for the adversarial term (the paper: the non-saturating log loss),
with all its settings (LSGAN's labels, label smoothing and flipping, clipping, the gradient penalty).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from genzoo.algos.base import Algo, frozen
from genzoo.losses import GANObjective, gradient_penalty
from genzoo.nets.unet import set_dropout

MODES = ("l1+cgan", "l1", "cgan", "l1+gan")


class Pix2Pix(Algo):
    adversarial = True  # n_critic D steps per G step
    reuses_fake = True  # G's step reuses the G forward of D's last step (Algo.train_step)

    def __init__(self, G: nn.Module, D: nn.Module | None, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer | None, *, device: torch.device,
                 objective: GANObjective | None = None, mode: str = "l1+cgan", l1_weight: float = 100.0,
                 precision: str = "fp32", channels_last: bool = False):
        super().__init__(device, precision)
        self.G, self.D, self.mode = G, D, mode
        self.objective = objective or GANObjective.create("nsgan")
        self.loss_name, self.loss = self.objective.name, self.objective.row
        self.l1_weight = 0.0 if mode == "cgan" else l1_weight
        self.conditional_d = mode in ("l1+cgan", "cgan")
        self.nets = {"G": G} | ({"D": D} if D is not None else {})
        self.opts = {"G": opt_g} | ({"D": opt_d} if opt_d is not None else {})
        self.finish_nets(channels_last)
        self.probe = False

    def _judge(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """D's patch logits for the pair (a, b), or for b alone with an unconditional D. (B, 1, h, w)"""
        return self.D(torch.cat([a, b], 1) if self.conditional_d else b)

    def _train_step(self, next_batch, n_critic: int = 1, g_steps: int = 1) -> dict:
        """Algo._train_step, which reuses G's output of D's last step for G's step on the same batch (the pix2pix
        authors' order: forward, update D, update G); without a D (mode l1), one G step per batch."""
        if self.D is None:
            return self.g_step(next_batch())
        return super()._train_step(next_batch, n_critic, g_steps)

    def d_step(self, batch: dict, keep_fake: bool = False) -> dict:
        """One D step; ``keep_fake``: G's output keeps its graph for ``g_step`` (``self._kept``)."""
        if self.D is None:  # L1 only: nothing to train here
            return {}
        a, b = self.to_input(batch["a"]), self.to_input(batch["x"])
        with torch.set_grad_enabled(keep_fake), self.autocast():
            kept = self.G(a)
        fake = kept.detach()
        self._kept = kept if keep_fake else None
        with self.autocast():
            r, f = self._judge(a, b).float(), self._judge(a, fake).float()
        loss = self.objective.d_loss(r, f, rand_like=self.rand_shard)
        out = {}
        if self.objective.gp_weight:
            with self.autocast():
                eps = self.rand_shard(b.new_empty(b.shape[0], 1, 1, 1, dtype=torch.float32))
                gp, _ = gradient_penalty(lambda x: self._judge(a, x).flatten(1).mean(1), b, fake.float(), eps=eps,
                                         scale=self.loss_scale("D"))
            loss = loss + self.objective.gp_weight * gp.float()
            out["gp"] = gp.item()
        norm = self.optimize("D", loss, self.D if self.probe else None)
        if self.probe:
            out["grad_norm_d"] = norm
        self.objective.clip_weights(self.D)
        return out | {"loss_d": loss.item(), **self.objective.d_scalars(r.detach(), f.detach())}

    def g_step(self, batch: dict, fake: torch.Tensor | None = None) -> dict:
        """One G step on ``batch``; ``fake``: G(batch's a) kept from D's step. D's weights take no gradient."""
        a, b = self.to_input(batch["a"]), self.to_input(batch["x"])
        if fake is None:
            with self.autocast():
                fake = self.G(a)
        fake = fake.float()
        l1 = F.l1_loss(fake, b)
        loss, out = self.l1_weight * l1, {"l1": l1.item()}
        with frozen(self.D):
            if self.D is not None:
                with self.autocast():
                    f = self._judge(a, fake).float()
                adv = self.objective.g_loss(f)
                loss = loss + adv
                out["loss_g_adv"] = adv.item()
            norm = self.optimize("G", loss, self.G if self.probe else None)
        if self.probe:
            out["grad_norm_g"] = norm
        return out | {"loss_g": loss.item()}

    # -- translation ----------------------------------------------------------------------------------
    @torch.no_grad()
    def translate(self, a: torch.Tensor, dropout: bool = False) -> torch.Tensor:
        """G(a) in eval mode (batch norm on running statistics); ``dropout=True`` keeps dropout on,
        the source of pix2pix's (small) output diversity. Images in [-1, 1]."""
        was = self.G.training
        self.G.eval()
        set_dropout(self.G, dropout)
        with self.autocast():
            out = self.G(self.to_input(a))
        self.G.train(was)
        return out.float()

    preview_nrow = 12  # four triplets per row

    def preview_inputs(self, data, n: int, generator: torch.Generator | None = None) -> dict:
        """The fixed pairs shown in the training grids: the first 16 of the dataset (a fixed mask draw)."""
        idx = torch.arange(min(n, 16, len(data)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return data.batch(idx)

    def preview(self, batch: dict) -> torch.Tensor:
        """condition | output | target triplets, one row of three per pair. Images in [-1, 1], 3 channels
        when either side has colour."""
        a, b = batch["a"], batch["x"]
        out = self.translate(a).cpu()
        return triplets(a, out, b)


def triplets(a: torch.Tensor, out: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Interleave (a_i, out_i, b_i), converting grey to RGB where the sides differ. (3N, C, H, W)"""
    c = max(a.shape[1], out.shape[1], b.shape[1])
    a, out, b = (t.expand(-1, c, -1, -1) if t.shape[1] != c else t for t in (a, out, b))
    return torch.stack([a, out, b], 1).flatten(0, 1)
