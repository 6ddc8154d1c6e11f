"""Features and class probabilities from an evaluation classifier, and the cached reference set.

The reference (features + softmax of a real split) is cached under
``~/.cache/genzoo/refstats/`` as safetensors with its key in the header: dataset spec, split,
extractor, sample count and the SHA-256 of the classifier weights. A different key recomputes;
the file is written to a temp name and renamed, so a crash never leaves a half-written cache.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from genzoo.io import sha256
from genzoo.metrics.classifier import load_classifier, weights_path
from genzoo.data import Dataset, convert_images, load_dataset, to_float
from genzoo.data.mnist import cache_dir
from genzoo.nets.classifier import LeNet


@dataclass
class Features:
    feats: np.ndarray   # (N, D) penultimate activations
    probs: np.ndarray   # (N, K) softmax

    @property
    def n(self) -> int:
        return len(self.feats)


@torch.no_grad()
def extract(net: LeNet, images_u8: torch.Tensor, batch: int = 1000) -> Features:
    """uint8 (N, C, H, W) images -> features; resized/converted to the classifier's input first."""
    c, s, _ = net.in_shape
    feats, probs = [], []
    for chunk in images_u8.split(batch):
        x = to_float(convert_images(chunk, s, c))
        f = net.features(x)
        feats.append(f.double())
        probs.append(torch.softmax(net.head(f).double(), 1))
    return Features(torch.cat(feats).numpy(), torch.cat(probs).numpy())


def subset(data: Dataset, n: int, seed: int = 0) -> torch.Tensor:
    """The first n of a fixed random permutation (all of it when n >= len)."""
    if n >= len(data):
        return data.x
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return data.x[idx.sort().values]


def reference(spec: str, key: str, n: int, root: str | None = None, split: str = "test",
              classifier: tuple[LeNet, dict] | None = None) -> tuple[Features, dict]:
    """Features of a real split, from the cache when its key matches. Returns (features, stamp).
    ``classifier`` is the (net, meta) of ``load_classifier(key)`` when the caller already has it."""
    net, meta = classifier or load_classifier(key)
    data = load_dataset(spec, split, root)
    n_used = min(n, len(data))
    stamp = {"reference": f"{spec}:{split}", "n_reference": n_used, "extractor": meta["extractor"],
             "class_names": data.class_names or [str(i) for i in range(meta["arch"]["num_classes"])]}
    ref = cached_features(data, spec, split, n_used, {"extractor": meta["extractor"],
                                                      "weights_sha256": sha256(weights_path(key))},
                          lambda x: extract(net, x))
    return ref, stamp


def cached_features(data: Dataset, spec: str, split: str, n: int, extractor: dict,
                    compute: Callable[[torch.Tensor], Features]) -> Features:
    """``compute`` on the first n of a fixed permutation of ``data``, cached under ~/.cache/genzoo/refstats
    with its key (dataset, split, n and ``extractor``: its name and weights hash) in the file header."""
    cache_key = {"dataset": spec, "split": split, "n": n, **extractor}
    name = hashlib.sha256(json.dumps(cache_key, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / "refstats" / f"{spec.replace('/', '_').replace(':', '-')[:40]}-{name}.safetensors"
    if path.is_file():
        try:
            with safe_open(str(path), "pt") as fh:
                if json.loads(fh.metadata()["key"]) == cache_key:
                    t = load_file(str(path))
                    return Features(t["feats"].numpy(), t["probs"].numpy())
        except (SafetensorError, OSError, KeyError, ValueError):
            pass  # unreadable or stale cache: recompute below
    ref = compute(subset(data, n))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({"feats": torch.from_numpy(ref.feats), "probs": torch.from_numpy(ref.probs)}, str(tmp),
              metadata={"key": json.dumps(cache_key)})
    os.replace(tmp, path)
    return ref
