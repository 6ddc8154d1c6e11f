"""Evaluation classifiers: train, save, find and load them.

Shipped weights (``genzoo/weights/lenet-<dataset>.safetensors``) cover mnist (also used for the
embedded MNIST subset) and fashion-mnist; ``genzoo classifier train`` reproduces them and trains
others (cifar10, folders) into ``~/.cache/genzoo/classifiers/``. The safetensors header carries the
dataset, architecture arguments and measured test accuracy as JSON metadata.
"""
from __future__ import annotations

import json
import os
import time
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from tqdm import tqdm

from genzoo.data.augment import random_affine
from genzoo.data import Dataset, load_dataset
from genzoo.data.mnist import cache_dir
from genzoo.errors import GenzooError
from genzoo.nets.classifier import LeNet

EXTRACTOR_FOR = {"embedded": "mnist", "mnist": "mnist", "fashion-mnist": "fashion-mnist", "cifar10": "cifar10"}
EPOCHS = {"mnist": 4, "fashion-mnist": 12, "cifar10": 25}


def extractor_key(spec: str) -> str:
    """Which classifier evaluates a dataset spec (folders: a key derived from the path)."""
    if spec in EXTRACTOR_FOR:
        return EXTRACTOR_FOR[spec]
    if spec.startswith("folder:"):
        return "folder-" + Path(spec[7:]).expanduser().resolve().name
    raise GenzooError(f"no evaluation classifier applies to '{spec}'")


def weights_path(key: str) -> Path | None:
    packaged = resources.files("genzoo") / "weights" / f"lenet-{key}.safetensors"
    if packaged.is_file():
        return Path(str(packaged))
    user = cache_dir() / "classifiers" / f"lenet-{key}.safetensors"
    return user if user.is_file() else None


def load_classifier(key: str, device: torch.device | str = "cpu") -> tuple[LeNet, dict]:
    path = weights_path(key)
    if path is None:
        raise GenzooError(f"no evaluation classifier for '{key}'; train one with "
                          f"`genzoo classifier train --dataset {key}`")
    return load_classifier_file(path, device)


def load_classifier_file(path: str | Path, device: torch.device | str = "cpu") -> tuple[LeNet, dict]:
    """A weights file written by ``train_classifier`` (plain, fine-tuned or adversarially trained)."""
    path = Path(path)
    if not path.is_file():
        raise GenzooError(f"{path}: no such classifier weights file")
    try:
        with safe_open(str(path), "pt") as fh:
            meta = json.loads(fh.metadata()["genzoo"])
        state = load_file(str(path))
        net = LeNet(**meta["arch"])
        net.load_state_dict(state)
    except (SafetensorError, OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        raise GenzooError(f"{path}: unreadable classifier weights ({e}); retrain with `genzoo classifier train`") from None
    return net.eval().to(device), meta


@torch.no_grad()
def accuracy(net: LeNet, data: Dataset, batch: int = 1000) -> float:
    net.eval()
    correct = 0
    for i in range(0, len(data), batch):
        b = data.batch(torch.arange(i, min(i + batch, len(data))))
        dev = next(net.parameters()).device
        correct += (net(b["x"].to(dev)).argmax(1) == b["y"].to(dev)).sum().item()
    return correct / len(data)


def _fit(net: LeNet, train_set: Dataset, epochs: int, lr: float, gen: torch.Generator, perturb, desc: str,
         progress: bool) -> None:
    """AdamW with a one-cycle schedule, random shifts (and flips for colour images), label smoothing 0.05."""
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    bs = min(128, len(train_set))
    steps = epochs * (len(train_set) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    flip = train_set.sample_shape[0] == 3  # flips for natural images only
    with tqdm(total=steps, desc=desc, disable=not progress, dynamic_ncols=True) as bar:
        for epoch in range(epochs):
            net.train()
            perm = torch.randperm(len(train_set), generator=gen)
            for i in range(len(train_set) // bs):
                b = train_set.batch(perm[i * bs:(i + 1) * bs])
                x = random_affine(b["x"], shift=2, flip=flip, generator=gen)  # on the CPU, with the seeded generator
                dev = next(net.parameters()).device
                x, y = x.to(dev), b["y"].to(dev)
                if perturb is not None:
                    x = perturb(net, x, y, gen)
                    net.train()
                loss = F.cross_entropy(net(x), y, label_smoothing=0.05)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
                if i % 50 == 0:
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")


def train_classifier(spec: str, root: str | None = None, epochs: int | None = None, seed: int = 0,
                     out: Path | None = None, progress: bool = True, perturb=None, finetune: str | Path | None = None,
                     lr: float = 2e-3, limit: int | None = None, extra_meta: dict | None = None,
                     test_limit: int | None = None, device: str | None = None) -> tuple[Path, float]:
    """Train (or, with ``finetune=`` a weights file, fine-tune) a LeNet on a labelled dataset.

    ``perturb(net, x, y, generator) -> x`` replaces each batch (x in [-1, 1]) before the update: adversarial
    training and corruption augmentation pass one from ``genzoo.attack.training`` (kept out of here so that
    metrics does not import the attack layer above it). ``limit``/``test_limit`` take the first images only."""
    key = extractor_key(spec)
    train_set, test_set = load_dataset(spec, "train", root), load_dataset(spec, "test", root)
    if limit:
        train_set = Dataset(train_set.name, train_set.x[:limit], train_set.y[:limit], train_set.class_names)
    if test_limit:
        test_set = Dataset(test_set.name, test_set.x[:test_limit], test_set.y[:test_limit], test_set.class_names)
    if train_set.y is None:
        raise GenzooError(f"{spec} has no labels; a classifier needs one subfolder per class")
    epochs = epochs or EPOCHS.get(key, 15)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    c, h, _ = train_set.sample_shape
    arch = {"channels": c, "size": h, "num_classes": train_set.num_classes}
    if finetune:
        net, base = load_classifier_file(finetune)
        if base["arch"] != arch:
            raise GenzooError(f"{finetune}: a classifier for {base['dataset']} {base['arch']}, not for {spec}")
    else:
        net = LeNet(**arch)
    from genzoo.algos.base import resolve_device
    net = net.to(resolve_device(device or "auto"))
    t0 = time.perf_counter()
    _fit(net, train_set, epochs, lr, gen, perturb, f"classifier {key}", progress)
    acc = accuracy(net, test_set)
    from genzoo import __version__
    meta = {"dataset": spec, "key": key, "arch": arch, "test_accuracy": acc, "epochs": epochs, "seed": seed,
            "train_seconds": round(time.perf_counter() - t0, 1), "genzoo_version": __version__,
            "extractor": f"lenet-{key}", "feature_layer": "fc (penultimate, 128-d, after ReLU)",
            **({"finetuned_from": str(finetune)} if finetune else {}), **(extra_meta or {})}
    out = Path(out) if out else cache_dir() / "classifiers" / f"lenet-{key}.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    save_file({k: v.cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp),
              metadata={"genzoo": json.dumps(meta)})
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    return out, acc


def load_classifier_spec(spec: str, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """(net reading [-1, 1], meta) for a classifier spec: a shipped one (``lenet-mnist``), a weights file from
    ``genzoo classifier train`` (plain or robustly trained), or a folder holding one. meta['name'] names it."""
    p = Path(spec).expanduser()
    if p.is_dir():
        files = sorted(p.glob("*.safetensors"))
        if len(files) != 1:
            raise GenzooError(f"{spec}: expected one classifier .safetensors file in this folder, found {len(files)}")
        p = files[0]
    if p.is_file():
        net, meta = load_classifier_file(p, device)
        return net, {**meta, "name": str(spec)}
    if spec.startswith("lenet-"):
        net, meta = load_classifier(spec[len("lenet-"):], device)
        return net, {**meta, "name": spec}
    if spec.endswith(".safetensors") or "/" in spec:
        raise GenzooError(f"{spec}: no such classifier file or folder")
    raise GenzooError(f"unknown classifier '{spec}'; use lenet-mnist, lenet-fashion-mnist or a weights file "
                      "from `genzoo classifier train`")


def target_for(spec: str, dataset: str, shape: tuple[int, ...]) -> torch.nn.Module:
    """The classifier an AdvGAN run attacks: ``spec``, or the evaluation classifier of its dataset."""
    net, meta = load_classifier_spec(spec or f"lenet-{extractor_key(dataset)}")
    if tuple(net.in_shape) != tuple(shape):
        raise GenzooError(f"classifier '{meta['name']}' reads images of shape {tuple(net.in_shape)}, "
                          f"but {dataset} has {tuple(shape)}")
    return net
