"""Robust training: the per-batch perturbations that ``train_classifier(perturb=...)`` applies.

- ``pgd``: PGD adversarial training (Madry et al. 2018), k steps of size 2.5·ε/k from a random start.
- ``fgsm-rs``: FGSM from a random start with step 1.25·ε (Wong et al. 2020, "Fast is better than free").
- ``advgan``: examples from a trained AdvGAN generator (the fine-tuning SEEDS 004 describes).
- ``corruptions``: each image through a random MNIST-C-style corruption (or none).
Batches arrive in [-1, 1] (the classifier's input); attacks work in [0, 1] pixels, so ε keeps its pixel meaning.
"""
from __future__ import annotations

from typing import Callable

import torch

from genzoo.attack.gradient import PixelModel, _grad, check_eps, pgd, project
from genzoo.errors import GenzooError, at_least_1

ADVERSARIAL = ("pgd", "fgsm-rs", "advgan")
AUGMENT = ("corruptions",)


def _in_pixels(fn: Callable) -> Callable:
    def perturb(net, x, y, gen):
        was = net.training
        net.eval()  # attack the model as it predicts; batch-norm statistics stay those of clean batches
        x01 = fn(PixelModel(net), ((x + 1) / 2).clamp(0, 1), y, gen)
        net.train(was)
        return x01 * 2 - 1
    return perturb


def fgsm_rs(model, x, y, eps: float, alpha: float | None = None, gen: torch.Generator | None = None):
    """Wong et al. 2020, Alg. 3: δ ~ U(-ε, ε), one signed step of α = 1.25ε, projected back to the ball."""
    alpha = 1.25 * eps if alpha is None else alpha
    u = torch.rand(x.shape, generator=gen).to(x.device)
    x0 = project(x + (2 * u - 1) * eps, x, eps, "linf")
    g, _ = _grad(model, x0, y, None)
    return project(x0 + alpha * g.sign(), x, eps, "linf").detach()


def make_perturb(adversarial: str | None = None, eps: float = 0.3, steps: int = 10, augment: str | None = None,
                 generator_run: str | None = None, meta: dict | None = None) -> Callable | None:
    """perturb(net, x, y, generator) for train_classifier, or None for standard training."""
    if adversarial and augment:
        raise GenzooError("choose --adversarial or --augment, not both")
    if augment:
        if augment not in AUGMENT:
            raise GenzooError(f"unknown --augment '{augment}'; choose from {', '.join(AUGMENT)}")
        from genzoo.attack.corruptions import random_corruption
        from genzoo.data import to_float, to_uint8

        def corrupt(net, x, y, gen):
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
            return to_float(random_corruption(to_uint8(x).cpu(), seed)).to(x.device)  # NumPy/Pillow: on the CPU
        return corrupt
    if not adversarial:
        return None
    eps = check_eps(eps)
    if adversarial == "fgsm-rs":
        return _in_pixels(lambda m, x, y, gen: fgsm_rs(m, x, y, eps, gen=gen))
    if adversarial == "pgd":
        at_least_1(pgd_steps=steps)
        return _in_pixels(lambda m, x, y, gen: pgd(m, x, y, eps, steps, 2.5 * eps / steps, "linf", True, 1,
                                                   seed=int(torch.randint(0, 2**31 - 1, (1,), generator=gen))))
    if adversarial == "advgan":
        from genzoo.attack.advgan import load_generator
        g = load_generator(generator_run, meta)
        return _in_pixels(lambda m, x, y, gen: g(x, eps))
    raise GenzooError(f"unknown --adversarial '{adversarial}'; choose from {', '.join(ADVERSARIAL)}")


def robust_train(dataset: str, adversarial: str | None = None, eps: float = 0.3, *, augment: str | None = None,
                 steps: int = 10, finetune: str | None = None, generator_run: str | None = None, **kw):
    """``train_classifier`` with a defence; returns (weights path, clean test accuracy)."""
    from genzoo.metrics.classifier import load_classifier_spec as load_target
    from genzoo.metrics.classifier import train_classifier

    meta = None
    if finetune:
        _, meta = load_target(finetune)
        finetune_path = _weights_file(finetune)
    else:
        finetune_path = None
    if adversarial == "advgan" and meta is None:
        meta = {"dataset": dataset, "name": dataset}
    perturb = make_perturb(adversarial, eps, steps, augment, generator_run, meta)
    extra = {"defence": {"adversarial": adversarial, "augment": augment, "eps": eps if adversarial else None,
                         **({"pgd_steps": steps} if adversarial == "pgd" else {}),
                         **({"generator": str(generator_run)} if generator_run else {})}}
    return train_classifier(dataset, perturb=perturb, finetune=finetune_path, extra_meta=extra, **kw)


def _weights_file(spec: str):
    from pathlib import Path
    from genzoo.metrics.classifier import weights_path

    p = Path(spec).expanduser()
    if p.is_dir():
        return sorted(p.glob("*.safetensors"))[0]
    if p.is_file():
        return p
    return weights_path(spec[len("lenet-"):])


def default_out(dataset: str, adversarial: str | None, augment: str | None):
    """Robust classifiers never overwrite the evaluation classifier: lenet-KEY-DEFENCE.safetensors."""
    from genzoo.data.mnist import cache_dir
    from genzoo.metrics.classifier import extractor_key

    tag = adversarial or (f"aug-{augment}" if augment else "finetuned")
    return cache_dir() / "classifiers" / f"lenet-{extractor_key(dataset)}-{tag}.safetensors"
