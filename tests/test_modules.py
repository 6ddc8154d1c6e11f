"""Every nn.Module genzoo defines, through one table (the shape of diffusers' ModelTesterMixin):
build it small, save its state with ``checkpoint.save``, load it with ``checkpoint.load`` into a fresh
instance initialised differently, and require the same forward output in eval mode, bit for bit.
A module class that is missing from the table fails ``test_every_module_is_in_the_table``."""
from __future__ import annotations

import importlib
import pkgutil

import pytest
import torch
import torch.nn as nn

import genzoo
from genzoo.attack.gradient import PixelModel
from genzoo.explore import invert
from genzoo.nets import advgan
from genzoo.nets import vae
from genzoo.nets.classifier import LeNet
from genzoo.nets.conditional import ConditionalD
from genzoo.nets.dcgan import DCGANDiscriminator, DCGANGenerator, ProjectZ
from genzoo.nets.inception import _MIXED, ConvBN, FIDInceptionV3, Mixed
from genzoo.nets.maxout import LinearMaxout, MaxoutDiscriminator
from genzoo.nets.mlp import MLPDiscriminator, MLPGenerator
from genzoo.nets.patchgan import PatchGAN
from genzoo.nets.unet import UNetGenerator
from genzoo.training import checkpoint
from genzoo.nets.sync_bn import SyncBatchNorm


def _dcgan_d(**kw):
    return DCGANDiscriminator(channels=1, size=28, width=8, **kw)


def _images(n=3, c=1, s=28):
    return (torch.rand(n, c, s, s) * 2 - 1,)


def _labels(n=3):
    return torch.tensor([0, 3, 9])[:n]


# name -> (factory of the module, factory of the forward's positional inputs). Several rows may cover one
# class (its variants); the class is read from the built module.
CASES = {
    "ProjectZ": (lambda: ProjectZ(6, 4, 7, 1, 0, bias=True), lambda: (torch.randn(3, 6),)),
    "ProjectZ-channels-last": (lambda: ProjectZ(6, 4, 7, 1, 0).to(memory_format=torch.channels_last),
                               lambda: (torch.randn(3, 6),)),
    "DCGANGenerator": (lambda: DCGANGenerator(8, 1, 28, 8),
                       lambda: (torch.randn(3, 8),)),
    "DCGANGenerator-fc-32px": (lambda: DCGANGenerator(
        8, 3, 32, 8, fc_hidden=32), lambda: (torch.randn(3, 8),)),
    "DCGANGenerator-4-layers-5x5": (lambda: DCGANGenerator(8, 3, 28, 4, layers=4, kernel=5),
                                    lambda: (torch.randn(3, 8),)),
    "DCGANDiscriminator-4-layers-5x5": (lambda: _dcgan_d(layers=4, kernel=5), _images),
    "DCGANDiscriminator": (lambda: _dcgan_d(), _images),
    "DCGANDiscriminator-layer-norm": (lambda: _dcgan_d(norm="layer"), _images),
    "DCGANDiscriminator-cond": (lambda: _dcgan_d(cond_dim=10),
                                lambda: (*_images(), torch.eye(10)[_labels()])),
    "MLPGenerator": (lambda: MLPGenerator(4, (2,), 16),
                     lambda: (torch.randn(5, 4),)),
    "MLPDiscriminator": (lambda: MLPDiscriminator(
        (2,), 16, dropout=0.2), lambda: (torch.randn(5, 2),)),
    "ConditionalD-concat": (lambda: _conditional("concat"), lambda: (*_images(), _labels())),
    "ConditionalD-projection": (lambda: _conditional("projection"), lambda: (*_images(), _labels())),
    "ConditionalD-acgan": (lambda: _conditional("acgan"), lambda: (*_images(), _labels())),
    "ConditionalD-info": (lambda: _conditional("info", info_cat=10, info_cont=2), _images),
    "UNetGenerator": (lambda: UNetGenerator(1, 2, 16, width=4),
                      lambda: _images(2, 1, 16)),
    "PatchGAN": (lambda: PatchGAN(3, width=4, n_layers=2),
                 lambda: _images(2, 3, 32)),
    "LeNet": (lambda: LeNet(width=4, feature_dim=16),
              _images),
    "vae.Encoder-mlp": (lambda: _vae_encoder("mlp"), _images),
    "vae.Encoder-dcgan-cvae": (lambda: _vae_encoder("dcgan", num_classes=10), lambda: (*_images(), _labels())),
    "vae.Encoder-deterministic": (lambda: _vae_encoder("mlp", stochastic=False), _images),
    "PixelScale-learned": (lambda: vae.PixelScale((1, 4, 4), 0.0),
                           lambda: ()),
    "PixelScale-fixed": (lambda: vae.PixelScale((1, 4, 4), 0.3),
                         lambda: ()),
    "ConvBN": (lambda: ConvBN(3, 8, 3, 2, 1),
               lambda: (torch.randn(2, 3, 9, 9),)),
    "Mixed": (lambda: _mixed(), lambda: (torch.randn(1, 8, 7, 7),)),
    "FIDInceptionV3": (lambda: FIDInceptionV3(),
                       lambda: (torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8),)),
    "invert.Encoder": (lambda: invert.Encoder(1, 28, 4, width=8),
                       _images),
    "LinearMaxout": (lambda: LinearMaxout(6, 4, pieces=3), lambda: (torch.randn(5, 6),)),
    "MaxoutDiscriminator": (lambda: MaxoutDiscriminator((2,), hidden=16, layers=2, pieces=3),
                            lambda: (torch.randn(5, 2),)),
    "advgan.PerturbationG": (lambda: advgan.PerturbationG(1, width=4, blocks=1), _images),
    "advgan._Res": (lambda: advgan._Res(4), lambda: (torch.randn(2, 4, 8, 8),)),
    "PixelModel": (lambda: PixelModel(LeNet(width=4, feature_dim=16)), lambda: (torch.rand(3, 1, 28, 28),)),
    "SyncBatchNorm": (lambda: SyncBatchNorm(4), lambda: (torch.randn(3, 4, 5, 5),)),   # single process: batch norm
}


def _conditional(mode, **kw):
    base = _dcgan_d(cond_dim=10) if mode == "concat" else _dcgan_d()
    return ConditionalD(base, mode, num_classes=10, **kw)


def _vae_encoder(arch, num_classes=0, stochastic=True):
    body = MLPDiscriminator((1, 28, 28), 32, cond_dim=num_classes) if arch == "mlp" else _dcgan_d(cond_dim=num_classes)
    return vae.Encoder(body, 4, stochastic=stochastic, num_classes=num_classes)


def _mixed():
    return Mixed(8, dict(_MIXED)["Mixed_7b"])   # parallel branch ends and an average-pooled branch


def _scramble(module: nn.Module, gen: torch.Generator) -> None:
    """Give every float parameter and buffer values of its own, so that a load really has to overwrite
    them (batch-norm running statistics too: they only act in eval mode)."""
    with torch.no_grad():
        for name, t in [*module.named_parameters(), *module.named_buffers()]:
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            else:
                t.add_(0.1 * torch.randn(t.shape, generator=gen))


def _outputs(module: nn.Module, inputs) -> list[torch.Tensor]:
    with torch.no_grad():
        out = module.eval()(*inputs)
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in out if o is not None]


@pytest.mark.parametrize("name", list(CASES))
def test_save_load_round_trip_gives_the_same_outputs(name, tmp_path, seed):
    make, inputs = CASES[name]
    torch.manual_seed(seed(0))
    a = make()
    _scramble(a, torch.Generator().manual_seed(seed(1)))
    torch.manual_seed(seed(2))   # the fresh instance starts from other weights
    b = make()
    _scramble(b, torch.Generator().manual_seed(seed(3)))
    assert type(a) is type(b)
    torch.manual_seed(seed(4))
    x = inputs()
    ref = _outputs(a, x)
    assert any(not torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()) if
               p.is_floating_point()), "the two instances already agree"

    path = checkpoint.save(tmp_path / "ck", 7, {"net": a.state_dict()}, {"module": name})
    state, meta = checkpoint.load(path)
    assert meta["step"] == 7 and meta["module"] == name
    b.load_state_dict(state["net"], strict=True)

    got = _outputs(b, x)
    assert len(got) == len(ref)
    for r, g in zip(ref, got):
        assert r.shape == g.shape and r.dtype == g.dtype
        assert torch.equal(r, g), name
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka


def _genzoo_modules() -> dict[str, type]:
    """Every nn.Module subclass defined in a genzoo module, by qualified name."""
    found = {}
    for info in pkgutil.walk_packages(genzoo.__path__, "genzoo."):
        if info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, nn.Module) and obj.__module__ == mod.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_module_is_in_the_table():
    classes = _genzoo_modules()
    torch.manual_seed(0)
    covered = {f"{type(m).__module__}.{type(m).__qualname__}" for m in (make() for make, _ in CASES.values())}
    missing = sorted(set(classes) - covered)
    assert not missing, f"add these nn.Modules to CASES in tests/test_modules.py: {missing}"
    assert len(classes) >= 14
