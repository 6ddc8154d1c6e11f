"""Algorithms: one training step of one model family, built from nets and losses."""
from genzoo.algos.gan import GAN, GANOptions

__all__ = ["GAN", "GANOptions"]
