import pytest
import torch

from genzoo.checkpoint import flatten, unflatten
from genzoo.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    G = DCGANGenerator(z_dim=16, channels=channels, size=size, width=8)
    D = DCGANDiscriminator(channels=channels, size=size, width=8)
    x = G(torch.randn(5, 16))
    assert x.shape == (5, channels, size, size)
    assert x.abs().max() <= 1  # tanh output
    assert D(x).shape == (5,)


def test_dcgan_follows_the_rules():
    G, D = DCGANGenerator(size=32, width=8), DCGANDiscriminator(size=32, width=8)
    assert not any(isinstance(m, torch.nn.Linear) for m in [*G.modules(), *D.modules()])  # no FC hidden layers
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.ReLU)) for m in D.modules())  # LeakyReLU, strides
    assert isinstance(D.body[0], torch.nn.Conv2d) and not isinstance(D.body[1], torch.nn.BatchNorm2d)
    assert not isinstance(D.head, torch.nn.Sigmoid)


def test_dcgan_rejects_unsupported_size():
    with pytest.raises(ValueError, match="28, 32, 64"):
        DCGANGenerator(size=48)


@pytest.mark.parametrize("shape", [(2,), (1, 28, 28)])
def test_mlp_shapes(shape):
    G = MLPGenerator(8, shape, hidden=32, tanh=len(shape) == 3)
    D = MLPDiscriminator(shape, hidden=32, dropout=0.2)
    x = G(torch.randn(4, 8))
    assert x.shape == (4, *shape) and D(x).shape == (4,)


@pytest.mark.parametrize("make", [lambda: DCGANGenerator(16, 3, 32, 8), lambda: DCGANDiscriminator(3, 32, 8),
                                  lambda: MLPGenerator(4, (2,), 16), lambda: MLPDiscriminator((2,), 16)])
def test_state_roundtrip_through_checkpoint_format(make, tmp_path):
    from safetensors.torch import load_file, save_file

    a, b = make(), make()
    for p in b.parameters():
        torch.nn.init.zeros_(p)
    tensors = {}
    skel = flatten(a.state_dict(), tensors)
    save_file(tensors, str(tmp_path / "w.safetensors"))
    b.load_state_dict(unflatten(skel, load_file(str(tmp_path / "w.safetensors"))))
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(v, w), k


def test_layer_norm_critic_scores_each_sample_on_its_own():
    """A gradient penalty needs per-sample critic outputs: with d_norm=layer the score of an image does
    not depend on the rest of the batch (with batch norm in training mode it does)."""
    from genzoo.nets import DCGANDiscriminator
    torch.manual_seed(0)
    x = torch.randn(8, 1, 28, 28)
    for norm, independent in (("layer", True), ("batch", False)):
        D = DCGANDiscriminator(1, 28, 16, norm=norm).train()
        alone = D(x[:1])[0]
        in_batch = D(x)[0]
        assert torch.allclose(alone, in_batch, atol=1e-5) == independent, norm
