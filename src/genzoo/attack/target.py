"""Which classifier is attacked: a shipped one (``lenet-mnist``), a weights file from ``genzoo classifier train``
(plain or robustly trained), or a folder holding one ``*.safetensors`` classifier."""
from __future__ import annotations

from pathlib import Path

import torch

from genzoo.errors import GenzooError


def load_target(spec: str, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """(net reading [-1, 1], meta) for a classifier spec; meta['name'] is how reports name it."""
    from genzoo.metrics.classifier import load_classifier, load_classifier_file

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
    from genzoo.metrics.classifier import extractor_key

    net, meta = load_target(spec or f"lenet-{extractor_key(dataset)}")
    if tuple(net.in_shape) != tuple(shape):
        raise GenzooError(f"classifier '{meta['name']}' reads images of shape {tuple(net.in_shape)}, "
                          f"but {dataset} has {tuple(shape)}")
    return net
