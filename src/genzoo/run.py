"""``Run``: a run directory as an object. Everything after training goes through it.

    RUN_DIR/config.yaml          the resolved config (every field, after --set; the data shape filled in)
    RUN_DIR/log.jsonl            one JSON object per logged step (losses, D outputs, images/s), and events
    RUN_DIR/samples/step_*.png   the fixed-noise grid over training; progress.gif assembles them
    RUN_DIR/checkpoints/         step_NNNNNN.safetensors + step_NNNNNN.json
    RUN_DIR/metrics.json         written by ``genzoo.evaluate``

A ``Run`` reopens the model of the latest checkpoint, generates in chunks to uint8, finds the
evaluation classifier of its dataset and says what its family can do (``Run.traits``), so no caller
asks ``hasattr(algo, ...)``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from genzoo.algos.base import Algo, resolve_device
from genzoo.config import Config
from genzoo.config_values import check_seed
from genzoo.config_files import load_config_file
from genzoo.data import Dataset, to_uint8
from genzoo.errors import GenzooError
from genzoo.training import checkpoint
from genzoo.training.build import dataset_for
from genzoo.training.checkpoint import ckpt_dir
from genzoo.training.fits import load_model

CHUNK = 500  # images generated per forward pass: bounded memory at any n


@dataclass(frozen=True)
class Traits:
    """What a family of models can do; the one table callers consult instead of probing the algo."""
    generates: bool        # draws samples from a prior: sample(), interpolate, evaluate's sample metrics
    encoder: bool          # maps images to latents (AE/VAE): reconstructions, encoded interpolation
    likelihood: bool       # ELBO / importance-sampled NLL on held-out data
    paired: bool           # translates a condition image (pix2pix)
    adversarial: bool      # trained against a discriminator (its D can be probed)


FAMILIES: dict[str, Traits] = {
    "gan": Traits(generates=True, encoder=False, likelihood=False, paired=False, adversarial=True),
    "vae": Traits(generates=True, encoder=True, likelihood=True, paired=False, adversarial=False),
    "ae": Traits(generates=True, encoder=True, likelihood=True, paired=False, adversarial=False),
    "pix2pix": Traits(generates=False, encoder=False, likelihood=False, paired=True, adversarial=True),
    "advgan": Traits(generates=False, encoder=False, likelihood=False, paired=False, adversarial=True),
}


_TRAIT_NEEDS = {"generates": "samples from a prior (gan, vae, ae recipes)",
                "encoder": "has an encoder (ae, vae, beta-vae, cvae)",
                "likelihood": "models a likelihood (ae, vae recipes)", "paired": "translates images (pix2pix)",
                "adversarial": "trains a discriminator"}
_FAMILY_HINT = {"pix2pix": "; for a pix2pix run use `genzoo sample RUN` (test triplets) or `genzoo translate`",
                "advgan": "; an AdvGAN run attacks a classifier: `genzoo attack CLASSIFIER --method advgan "
                          "--generator RUN`"}


def generate(algo: Algo, latents: torch.Tensor, dist=None) -> torch.Tensor:
    """The algo's output for ``latents`` in chunks, on the CPU (float; images in [-1, 1], or 2-D points).
    ``dist`` (a ``distributed.Dist`` under torchrun): each rank generates its contiguous share of the latents
    and every rank receives all n outputs, in order."""
    if dist is not None and dist.active:
        return dist.map_rows(lambda z: generate(algo, z), latents)
    return torch.cat([algo.generate(c).cpu() for c in latents.split(CHUNK)])


def generate_uint8(algo: Algo, latents: torch.Tensor, dist=None) -> torch.Tensor:
    """Images for ``latents`` as uint8 (N, C, H, W), quantised chunk by chunk exactly like saved images
    (``dist``: sharded over the ranks as in ``generate``)."""
    if dist is not None and dist.active:
        return dist.map_rows(lambda z: generate_uint8(algo, z), latents)
    return torch.cat([to_uint8(algo.generate(c)).cpu() for c in latents.split(CHUNK)])


def translate_all(algo: Algo, a: torch.Tensor, dropout: bool = False) -> torch.Tensor:
    """pix2pix: G(a) for conditions ``a`` in [-1, 1], in chunks, on the CPU (dropout on for one-to-many draws)."""
    return torch.cat([algo.translate(c, dropout).cpu() for c in a.split(CHUNK)])


# -- codes of conditional models and InfoGAN: the latent is z ⊕ one-hot class ⊕ continuous codes --
# (``algo.code_classes`` is 0 for unconditional models)
def check_label(algo, label: int) -> None:
    k = algo.code_classes
    if not k:
        raise GenzooError("--label needs a conditional run (cgan, cgan-projection, acgan) or infogan")
    if not 0 <= label < k:
        raise GenzooError(f"--label {label} is outside 0..{k - 1}")


def with_code(algo, latent: torch.Tensor, label: int | None = None, cont: dict[int, float] | None = None):
    """A copy of the latents with the class (InfoGAN: category) set to ``label`` and continuous
    code i set to cont[i]; the noise part is kept, so style stays fixed while the code changes."""
    k, out = algo.code_classes, latent.clone()
    if label is not None:
        check_label(algo, label)
        out[:, algo.z_dim:algo.z_dim + k] = 0.0
        out[:, algo.z_dim + label] = 1.0
    for i, v in (cont or {}).items():
        out[:, algo.z_dim + k + i] = v
    return out


def load_algo(path: Path, device: torch.device | str | None = None, expect: Config | None = None
              ) -> tuple[Algo, dict]:
    """The algo of one checkpoint (its JSON path), rebuilt from the config inside it. Returns (algo, meta).
    With ``expect`` (the run's config) a checkpoint from another run is refused in one line."""
    meta = checkpoint.read_meta(path)
    cfg = meta.get("config")
    dev = resolve_device(device or (cfg.get("train", {}).get("device") if isinstance(cfg, dict)
                                    and isinstance(cfg.get("train"), dict) else None) or "auto")
    return load_model(path, dev, expect)


class Run:
    """A run directory. ``Run.open(path)`` reads its config; the model is loaded on first use."""

    def __init__(self, path: Path, cfg: Config, device: str | None = None):
        self.path, self.cfg, self.device = Path(path), cfg, device

    @classmethod
    def open(cls, path: str | Path, device: str | None = None) -> "Run":
        path = Path(path)
        if not path.is_dir():
            raise GenzooError(f"{path}: no such run directory; train one with `genzoo train RECIPE --out {path}`")
        if not (path / "config.yaml").is_file():
            raise GenzooError(f"{path}: not a genzoo run directory (no config.yaml)")
        if device is not None:
            resolve_device(device)  # a device that is not there fails before any work
        return cls(path, load_config_file(path / "config.yaml"), device)

    def __repr__(self) -> str:
        return f"Run('{self.path}', recipe={self.cfg.recipe!r}, family={self.kind!r})"

    # -- what it is -----------------------------------------------------------------------
    @property
    def family(self) -> str:
        return self.cfg.family

    @property
    def kind(self) -> str:
        """The family, 'toy' for a GAN on 2-D points (its samples are points, not images), or 'stacked' for a
        GAN on Stacked MNIST (measured by its digit triples)."""
        if self.cfg.data.dataset == "stacked-mnist" and self.cfg.family == "gan":
            return "stacked"
        return "toy" if self.cfg.data.dataset.startswith("toy:") else self.cfg.family

    @property
    def traits(self) -> Traits:
        return FAMILIES[self.cfg.family]

    # -- checkpoints and the model -------------------------------------------------------------
    @property
    def checkpoints(self) -> list[Path]:
        return checkpoint.list_checkpoints(ckpt_dir(self.path))

    @cached_property
    def meta(self) -> dict:
        """The latest checkpoint's metadata (step, data shape, config)."""
        path = checkpoint.latest(ckpt_dir(self.path))
        if path is None:
            raise GenzooError(f"{self.path}: no checkpoint yet (train it first, or wait for the first save)")
        return checkpoint.read_meta(path)

    @property
    def step(self) -> int:
        return int(self.meta["step"])

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.meta["data_shape"])

    @cached_property
    def algo(self) -> Algo:
        algo, meta = load_algo(checkpoint.latest(ckpt_dir(self.path)) or self._no_ckpt(), self.device, self.cfg)
        self.__dict__["meta"] = meta
        return algo

    def algo_at(self, ckpt: Path) -> Algo:
        """The model as it was at one checkpoint (a path from ``checkpoints``)."""
        return load_algo(ckpt, self.device, self.cfg)[0]

    def _no_ckpt(self):
        raise GenzooError(f"{self.path}: no checkpoint yet (train it first, or wait for the first save)")

    # -- data and the evaluation classifier ------------------------------------------------------
    def dataset(self, split: str = "test") -> Dataset:
        return dataset_for(self.cfg, split)

    def pairs(self, n: int | None = None) -> dict:
        """pix2pix: the first n test pairs {"a": conditions, "x": targets} (inpainting boxes: one fixed draw)."""
        self.require("paired", "test pairs")
        if n is not None and n < 1:
            raise GenzooError(f"n must be at least 1, got {n}")
        test = self.dataset("test")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return test.batch(torch.arange(min(len(test) if n is None else n, len(test))))

    @cached_property
    def classifier(self):
        """(net, meta) of the dataset's evaluation classifier, or None where genzoo has none."""
        from genzoo.metrics.classifier import extractor_key, load_classifier
        try:
            return load_classifier(extractor_key(self.cfg.data.dataset))
        except GenzooError:
            return None

    # -- sampling ---------------------------------------------------------------------------
    def require(self, trait: str, what: str) -> None:
        """One line, before any work, when this run's family cannot do ``what`` (a ``Traits`` field is False)."""
        if not getattr(self.traits, trait):
            raise GenzooError(f"{self.path} is a {self.family} run; {what} needs a run that {_TRAIT_NEEDS[trait]}"
                              + _FAMILY_HINT.get(self.family, ""))

    @property
    def code_classes(self) -> int:
        """Classes of the code a sample can be asked for (CGAN/ACGAN/CVAE labels, InfoGAN categories); 0 if none."""
        self.require("generates", "a class code")
        return self.algo.code_classes

    def latents(self, n: int, seed: int = 0, label: int | None = None) -> torch.Tensor:
        """The n latents that ``sample(n, seed, label)`` decodes (the same z as `genzoo sample --seed`)."""
        self.require("generates", "sampling from the prior")
        check_seed(seed, "seed")
        if n < 1:
            raise GenzooError(f"n must be at least 1, got {n}")
        z = self.algo.sample_z(n, torch.Generator().manual_seed(seed))
        if label is not None:
            z = with_code(self.algo, z, label)
        return z

    def sample(self, n: int, seed: int = 0, label: int | None = None, dist=None) -> torch.Tensor:
        """n samples as uint8 images (N, C, H, W); for 2-D toy runs, float points (N, 2). Under torchrun, with
        ``dist`` (``distributed.Dist``): every rank draws the same n latents, generates its contiguous share,
        and every rank returns all n samples (the same as one process)."""
        z = self.latents(n, seed, label)
        if self.kind == "toy":
            return generate(self.algo, z, dist)
        return generate_uint8(self.algo, z, dist)

    # -- what the run wrote ------------------------------------------------------------------------
    @property
    def log(self) -> list[dict]:
        """The logged training steps of log.jsonl (a damaged last line, cut by a crash, is skipped)."""
        return read_log(self.path / "log.jsonl")[0]

    @property
    def events(self) -> list[dict]:
        """Alerts and rollbacks from log.jsonl."""
        return read_log(self.path / "log.jsonl")[1]

    @property
    def metrics(self) -> dict | None:
        """metrics.json as written by ``genzoo.evaluate``, or None before the first evaluation."""
        p = self.path / "metrics.json"
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text())
        except ValueError:
            raise GenzooError(f"{p}: not valid JSON; evaluate again to rewrite it") from None


def read_log(path) -> tuple[list[dict], list[dict]]:
    """(scalar rows, events) of a run's log.jsonl. A last line cut short by a crash is dropped."""
    rows, events = [], []
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        raise GenzooError(f"{path}: not found; is this a genzoo run directory?") from None
    for i, ln in enumerate(lines, 1):
        if not ln.strip():
            continue
        try:
            rec = json.loads(ln)
        except ValueError:
            if i == len(lines):
                break  # the tail of a write cut short by a crash
            raise GenzooError(f"{path}:{i}: not a JSON line; the log is damaged") from None
        (events if "event" in rec else rows).append(rec)
    return rows, events
