"""Pure loss functions on logits."""
from genzoo.losses.gan import GAN_LOSSES, GANLoss
from genzoo.losses.penalties import gradient_penalty

__all__ = ["GAN_LOSSES", "GANLoss", "gradient_penalty"]
