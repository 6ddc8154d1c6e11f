"""Stacked MNIST under PacGAN's Table 2 protocol (Lin et al. 2018, arXiv:1712.04086, Sec. 5.2, which follows
VEEGAN's setup, Srivastava et al. 2017): 1,000 modes, DCGAN against PacDCGAN-m.

Two versions, pinned by tests/test_pacgan.py:

- ``paper``: what the paper states. The ``dcgan`` recipe (genzoo's DCGAN nets: two stride-2 layers at 28 x 28 with
  4 x 4 kernels), z of 100, Adam 2e-4 with beta1 0.5, 64 samples (packs) per batch, 50 epochs of the 128,000 stacked
  images (2,000 steps each), 26,000 samples evaluated.
- ``code``: that, plus what the authors' code (fjxmlzn/PacGAN, ``stacked_MNIST_experiments/VEEGAN_experiment``,
  built on carpedm20's DCGAN-tensorflow) does beyond it: carpedm20's nets at 28 x 28 (four stride-2 layers of
  5 x 5 kernels, 512 channels at the bottom: ``model.dcgan_layers=4``, ``model.dcgan_kernel=5``), two G steps
  after each D step (``train.g_steps=2``), and z uniform on [-1, 1]. A step costs several times a ``paper`` step.
"""
from __future__ import annotations

from genzoo.config import Config
from genzoo.config_files import load_recipe
from genzoo.errors import GenzooError
from genzoo.studies.modes import refuse_pinned

PACKS_PER_BATCH, STEPS_PER_EPOCH, EPOCHS, EVAL_SAMPLES = 64, 2000, 50, 26_000
PAPER = ["model.z_dim=100", "optim.lr_g=2e-4", "optim.lr_d=2e-4", "optim.beta1=0.5", "train.report=false"]
PROTOCOLS = {
    "paper": PAPER,
    "code": [*PAPER, "model.dcgan_layers=4", "model.dcgan_kernel=5", "train.g_steps=2", "model.z_dist=uniform"],
}
# PacGAN Table 2: modes (of 1,000) and KL to uniform, mean of 10 runs
PUBLISHED = {"DCGAN": (99, 3.40), "ALI": (16, 5.40), "Unrolled GAN": (48.7, 4.32), "VEEGAN": (150, 2.95),
             "PacDCGAN2": (1000, 0.06), "PacDCGAN3": (1000, 0.06), "PacDCGAN4": (1000, 0.07)}
PINNED = ("model.pack", "train.batch_size", "data.dataset", "train.seed", "train.steps")


def row_name(pack: int) -> str:
    return "DCGAN" if pack == 1 else f"PacDCGAN{pack}"


def stacked_config(pack: int, seed: int, steps: int, protocol: str = "paper", overrides: list[str] = ()) -> Config:
    """The config of one Stacked MNIST run: ``pack`` samples per D input, ``steps`` D steps, under ``protocol``
    (plus ``overrides``, a variation that may not touch the pack, batch, data, seed or steps)."""
    if protocol not in PROTOCOLS:
        raise GenzooError(f"unknown Stacked MNIST protocol '{protocol}'; valid: " + ", ".join(PROTOCOLS))
    refuse_pinned(overrides, PINNED, "--packs sets the pack and the batch, --steps the steps, --seed the seed")
    cfg = load_recipe("dcgan", "stacked-mnist")
    cfg.apply_overrides([f"model.pack={pack}", f"train.batch_size={PACKS_PER_BATCH * pack}", f"train.seed={seed}",
                         f"train.steps={steps}", *PROTOCOLS[protocol], *overrides])
    return cfg
