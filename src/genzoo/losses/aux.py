"""Auxiliary GAN terms as pure functions of D's heads: ACGAN's class cross-entropy, InfoGAN's L_I and the
CR-GAN consistency term. Each returns a scalar to *minimise* (InfoGAN's: its two parts)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def acgan_ce(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """ACGAN: cross-entropy of the auxiliary classifier on the intended class (Odena et al. 2017, Eq. 2-3).
    class_logits (B, K), labels (B,) in 0..K-1."""
    return F.cross_entropy(class_logits.float(), labels)


def info_terms(q: torch.Tensor, code: torch.Tensor, n_cat: int) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoGAN's L_I, the variational bound on I(c; G(z, c)) (Chen et al. 2016, Eq. 5), as two terms to minimise:
    the cross-entropy of Q's categorical logits q[:, :n_cat] on the one-hot code code[:, :n_cat], and for the
    continuous codes the negative log-likelihood of a unit-variance Gaussian centred on Q's outputs, up to its
    constant: 0.5 * ||q[:, n_cat:] - code[:, n_cat:]||^2, summed over codes and averaged over the batch.
    ln K - cross-entropy is a lower bound on I(c_cat; x)."""
    ce = F.cross_entropy(q[:, :n_cat].float(), code[:, :n_cat].argmax(1))
    gauss = 0.5 * (q[:, n_cat:].float() - code[:, n_cat:]).pow(2).sum(1).mean()
    return ce, gauss


def consistency(r: torch.Tensor, t: torch.Tensor, r_heads: torch.Tensor | None = None,
                t_heads: torch.Tensor | None = None, n_cat: int = 0) -> torch.Tensor:
    """CR-GAN (Zhang et al. 2020): D's logits on real images r and on augmented copies t should agree,
    mean (t - r)^2. With a categorical head (ACGAN's classes, InfoGAN's categories: the first ``n_cat`` columns
    of the heads), KL(softmax(r_heads) || softmax(t_heads)) averaged over the batch is added, the prediction on
    the original held fixed as the target."""
    cr = (t.float() - r.float()).pow(2).mean()
    if r_heads is not None and t_heads is not None and n_cat:
        target = F.softmax(r_heads[:, :n_cat].float().detach(), 1)
        cr = cr + F.kl_div(F.log_softmax(t_heads[:, :n_cat].float(), 1), target, reduction="batchmean")
    return cr
