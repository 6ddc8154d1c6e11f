"""Pure loss functions on logits."""
from genzoo.losses.aux import acgan_ce, consistency, info_terms
from genzoo.losses.gan import GAN_LOSSES, GANLoss, GANObjective
from genzoo.losses.penalties import gradient_penalty

__all__ = ["GAN_LOSSES", "GANLoss", "GANObjective", "acgan_ce", "consistency", "gradient_penalty", "info_terms"]
