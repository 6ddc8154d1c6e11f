"""Datasets as in-memory tensors, named by spec strings.

Specs: ``embedded`` (default; a 10k MNIST subset shipped with genzoo), ``mnist``,
``fashion-mnist``, ``folder:PATH``, ``toy:ring8``, ``toy:grid25``, ``toy:spiral``.
Images are held as uint8 (N, C, H, W) and turned into floats in [-1, 1] per batch, by
indexing; there are no per-sample Python transforms in the training loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F

from genzoo.data.folder import load_folder
from genzoo.data.idx import read_idx
from genzoo.data.mnist import CLASS_NAMES, SOURCES, load_idx_dataset
from genzoo.data.toy import TOY_NAMES, mode_centers, mode_std, sample_toy
from genzoo.errors import GenzooError
from genzoo.io import sha256_of

DATASET_HELP = {
    "embedded": "10,000 MNIST training digits (and 2,000 test digits) shipped inside genzoo; no download",
    "mnist": "MNIST 28x28 digits, 60k train / 10k test (IDX files; --data-root, $GENZOO_DATA or download)",
    "fashion-mnist": "Fashion-MNIST 28x28 clothes, 60k/10k (IDX; also Debian's /usr/share/datasets/fashion-mnist)",
    "cifar10": "CIFAR-10 32x32 RGB, 50k/10k (official binary version, or the JPEG tarballs of a local mirror)",
    "folder:PATH": "any folder of PNG/JPEG images; one subfolder per class gives labels; train/ and test/ pick splits",
    "stacked-mnist": "Stacked MNIST: 3 random MNIST digits as R, G, B (1,000 classes), 128k train / 10k test, "
                     "built from the MNIST files with a fixed seed",
    "toy:ring8": "8 Gaussians on a circle of radius 1, std 0.01 (2-D points)",
    "toy:grid25": "25 Gaussians on {-4,-2,0,2,4}^2, std 0.05 (2-D points; PacGAN)",
    "toy:spiral": "a noisy two-turn spiral (2-D points)",
}

# The embedded set's files; built from the official MNIST by benchmarks/../scripts (see README).
EMBEDDED_FILES = {
    "train": ("mnist-train10k-images-idx3-ubyte.gz", "mnist-train10k-labels-idx1-ubyte.gz"),
    "test": ("mnist-test2k-images-idx3-ubyte.gz", "mnist-test2k-labels-idx1-ubyte.gz"),
}


@dataclass
class Dataset:
    """A dataset in memory. ``x`` is uint8 (N, C, H, W) for images, float32 (N, D) for points."""

    name: str
    x: torch.Tensor
    y: torch.Tensor | None = None
    class_names: list[str] | None = None
    meta: dict = field(default_factory=dict)
    device: torch.device | None = None  # set by ``place``: where batches go (x already there, or copied there)
    digest: str | None = field(default=None, repr=False, compare=False)  # ``files_sha256``, once known

    @property
    def is_image(self) -> bool:
        return self.x.dtype == torch.uint8

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    def __len__(self) -> int:
        return self.x.shape[0]

    def files_sha256(self) -> str | None:
        """SHA-256 of the images and labels as read from their files (``io.sha256_of``), which a checkpoint
        records so that a resume on other files (another copy, the JPEG mirror instead of the binary set) is
        refused. Computed once, where it is needed (rank 0's checkpoints and resume). Where ``load_dataset``
        resized or recoloured the images with torch (float arithmetic, whose last bit may differ between CPUs)
        it has set it from the images before that, on every process; ``folder:`` images are resized by Pillow
        while they are decoded, so theirs are hashed at ``data.image_size``, and a memory-mapped folder's hash
        comes from its cache. None for points: they are drawn from the config's seed, not read from files."""
        if self.digest is None and self.is_image:
            self.digest = sha256_of(*self._read_from_files())
        return self.digest

    def _read_from_files(self) -> tuple[torch.Tensor | None, ...]:
        return self.x, self.y

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """{'x': floats for the networks (images in [-1, 1], points as they are), 'y': labels if any}."""
        idx = idx.to(self.x.device)
        x, y = self.x[idx], (self.y[idx] if self.y is not None else None)
        if self.device is not None and x.device != self.device:  # host-resident: page-locked, copied async
            x, y = (t.pin_memory().to(self.device, non_blocking=True) if t is not None else None for t in (x, y))
        out = {"x": to_float(x) if self.is_image else x}
        if y is not None:
            out["y"] = y
        return out


DEVICE_SHARE = 0.5  # a training set up to this share of the GPU's free memory is copied onto it once


def placement(nbytes: int, free_bytes: int) -> str:
    """'device' (the training set lives on the GPU, batches are indexed there) when it takes at most
    DEVICE_SHARE of the free GPU memory; else 'pinned' (it stays in host memory or its memory map, and each
    batch is gathered, page-locked and copied asynchronously)."""
    return "device" if nbytes <= DEVICE_SHARE * free_bytes else "pinned"


def place(data: Dataset, device: torch.device) -> tuple[Dataset, str]:
    """The dataset training batches are drawn from on ``device``, and where it is ('host' on CPUs, where the
    batches are already where the nets are). Images stay uint8 on the GPU: 4x less memory than floats."""
    if device.type != "cuda":
        return data, "host"
    nbytes = data.x.nbytes + (data.y.nbytes if data.y is not None else 0)
    if placement(nbytes, torch.cuda.mem_get_info(device)[0]) == "device":
        y = data.y.to(device) if data.y is not None else None
        return replace(data, x=data.x.to(device), y=y, device=device), "device"
    return replace(data, device=device), "pinned"


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255] (clamped, rounded)."""
    return x.detach().float().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def convert_images(x: torch.Tensor, size: int | None, channels: int | None) -> torch.Tensor:
    """Resize (antialiased bilinear) and convert channels once, at load time. x: uint8 (N, C, H, W)."""
    if channels is not None and channels != x.shape[1]:
        if channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1).contiguous()
        elif channels == 1 and x.shape[1] == 3:  # ITU-R 601-2 luma
            w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
        else:
            raise GenzooError(f"cannot convert {x.shape[1]} channels to {channels}; use 1 or 3")
    if size is not None and size != x.shape[-1]:
        out = []
        for chunk in x.split(4096):
            y = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            out.append(y.round().clamp(0, 255).to(torch.uint8))
        x = torch.cat(out)
    return x


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'folder:PATH' -> ('folder', 'PATH'); 'mnist' -> ('mnist', None)."""
    if not isinstance(spec, str) or not spec:
        raise GenzooError("empty dataset spec; valid specs: " + ", ".join(DATASET_HELP))
    kind, _, arg = spec.partition(":")
    kind = kind.lower()
    if kind in ("embedded", "cifar10", "stacked-mnist", *SOURCES) and not arg:
        return kind, None
    if kind == "folder" and arg:
        return kind, arg
    if kind == "toy" and arg in TOY_NAMES:
        return kind, arg
    raise GenzooError(f"unknown dataset '{spec}'; valid specs: " + ", ".join(DATASET_HELP))


def load_dataset(spec: str, split: str = "train", root: str | None = None, image_size: int | None = None,
                 channels: int | None = None, strict: bool = False, toy_samples: int = 100_000,
                 storage: str = "auto") -> Dataset:
    kind, arg = parse_spec(spec)
    if split not in ("train", "test"):
        raise GenzooError(f"unknown split '{split}'; use train or test")
    if kind == "toy":
        g = torch.Generator().manual_seed(1234 if split == "train" else 4321)  # fixed: same data in every run
        centers = mode_centers(arg)
        meta = {"toy": arg, "std": mode_std(arg)}
        if centers is not None:
            meta["centers"] = centers
        return Dataset(spec, sample_toy(arg, toy_samples, g), meta=meta)
    digest = None  # known up front only for memory-mapped folders (genzoo.data.cache); else hashed when needed
    if kind == "embedded":
        base = resources.files("genzoo") / "data" / "embedded"
        img_name, lab_name = EMBEDDED_FILES[split]
        with resources.as_file(base / img_name) as ip, resources.as_file(base / lab_name) as lp:
            images, labels = read_idx(ip), read_idx(lp).astype(np.int64)
        names = CLASS_NAMES["mnist"]
    elif kind == "cifar10":
        from genzoo.data.cifar import CLASSES, load_cifar10
        images, labels = load_cifar10(split, root)
        names = CLASSES
    elif kind == "stacked-mnist":
        from genzoo.data.stacked import CLASS_NAMES as STACKED_NAMES, SEEDS, SIZES, stack_digits
        try:
            digits, digit_labels = load_idx_dataset("mnist", split, root)
        except GenzooError as e:
            raise GenzooError(f"stacked-mnist is built from MNIST, which is missing: {e}") from None
        x, y = stack_digits(digits, digit_labels, SIZES[split], SEEDS[split])
        return _converted(Dataset(spec, x, y, STACKED_NAMES), image_size, channels)
    elif kind in SOURCES:
        images, labels = load_idx_dataset(kind, split, root)
        names = CLASS_NAMES[kind]
    else:
        images, labels, names, digest = load_folder(arg, split, image_size, channels, strict, storage)
    # a memory map (genzoo.data.cache) stays one: the pages load as batches touch them, shared by processes
    x = torch.from_numpy(images if isinstance(images, np.memmap) else np.array(images, copy=True))
    if x.ndim == 3:
        x = x.unsqueeze(1)  # (N, 1, H, W)
    y = torch.from_numpy(np.asarray(labels)) if labels is not None else None
    return _converted(Dataset(spec, x, y, names, digest=digest), image_size, channels)


def _converted(ds: Dataset, image_size: int | None, channels: int | None) -> Dataset:
    """``ds`` at the asked size and channels; its digest, when they changed, is of the images as read."""
    x = convert_images(ds.x, image_size, channels)
    return ds if x is ds.x else replace(ds, x=x, digest=ds.files_sha256())


class BatchSampler:
    """Shuffled epochs of indices from its own generator, so a resumed run sees the same batches.
    Distributed (``world`` > 1): ``batch_size`` is the global batch; every rank draws the same permutation
    and ``next`` returns rank ``rank``'s contiguous share, batch_size / world indices."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if n < batch_size:
            raise GenzooError(f"dataset has {n} samples, fewer than the batch size {batch_size}")
        self.n, self.batch_size, self.rank, self.world = n, batch_size, rank, world
        self.gen = torch.Generator().manual_seed(seed)
        self._new_epoch()

    def _new_epoch(self) -> None:
        self.epoch_state = self.gen.get_state()
        self.perm = torch.randperm(self.n, generator=self.gen)
        self.pos = 0

    def next(self) -> torch.Tensor:
        if self.pos + self.batch_size > self.n:  # drop the ragged tail
            self._new_epoch()
        idx = self.perm[self.pos: self.pos + self.batch_size]
        self.pos += self.batch_size
        if self.world > 1:
            k = self.batch_size // self.world
            idx = idx[self.rank * k: (self.rank + 1) * k]
        return idx

    def state_dict(self) -> dict:
        return {"epoch_state": self.epoch_state, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["epoch_state"])
        self._new_epoch()
        self.pos = int(state["pos"])
