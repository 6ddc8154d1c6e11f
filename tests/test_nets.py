"""Network shapes and the papers' architecture rules. The save/load round trip of every network
is in test_modules.py."""
import pytest
import torch

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


@pytest.mark.parametrize("size,most", [(28, 4), (32, 4), (64, 5)])
@pytest.mark.parametrize("kernel", [2, 3, 4, 5, 6, 7])
def test_dcgan_depths_and_kernels_keep_the_shapes(size, most, kernel):
    """Every depth that leaves a map of at least 2 x 2, with any kernel: each stride-2 layer halves the size
    (rounding up) in D and doubles it back in G, and the image comes out at its size."""
    for layers in range(1, most + 1):
        G = DCGANGenerator(z_dim=4, channels=1, size=size, width=2, layers=layers, kernel=kernel)
        D = DCGANDiscriminator(channels=1, size=size, width=2, layers=layers, kernel=kernel)
        sizes = [size]
        for _ in range(layers):
            sizes.insert(0, (sizes[0] + 1) // 2)
        maps = []
        for m in D.body:
            if isinstance(m, torch.nn.Conv2d):
                m.register_forward_hook(lambda mod, args, out: maps.append(out.shape[-1]))
        x = G(torch.randn(2, 4))
        assert x.shape == (2, 1, size, size) and D(x).shape == (2,)
        assert maps == sizes[-2::-1] and D.head.kernel_size == (sizes[0], sizes[0])


def test_default_dcgan_layers_are_pytorch_examples():
    """The defaults: 4 x 4 kernels, stride 2, padding 1, no output padding (the nets older runs were saved with)."""
    for size in (28, 32, 64):
        G, D = DCGANGenerator(size=size, width=8), DCGANDiscriminator(size=size, width=8)
        ups = [m for m in G.modules() if type(m) is torch.nn.ConvTranspose2d]
        downs = [m for m in D.body if isinstance(m, torch.nn.Conv2d)]
        assert len(ups) == len(downs) == {28: 2, 32: 3, 64: 4}[size]
        for m in ups + downs:
            assert (m.kernel_size, m.stride, m.padding) == ((4, 4), (2, 2), (1, 1))
        assert all(m.output_padding == (0, 0) for m in ups)


def test_dcgan_follows_the_rules():
    G, D = DCGANGenerator(size=32, width=8), DCGANDiscriminator(size=32, width=8)
    assert not any(isinstance(m, torch.nn.Linear) for m in [*G.modules(), *D.modules()])  # no FC hidden layers
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.ReLU)) for m in D.modules())  # LeakyReLU, strides
    assert isinstance(D.body[0], torch.nn.Conv2d) and not isinstance(D.body[1], torch.nn.BatchNorm2d)
    assert not isinstance(D.head, torch.nn.Sigmoid)


def test_fc_hidden_gives_infogans_mnist_nets():
    """Chen et al. 2016, Table 1: G = FC 1024-BN-ReLU, FC 7x7x128-BN-ReLU, up-conv 64-BN-ReLU, up-conv 1;
    D = conv 64-LReLU, conv 128-BN-LReLU, FC 1024-BN-LReLU, FC 1."""
    G = DCGANGenerator(z_dim=74, channels=1, size=28, width=64, fc_hidden=1024)
    D = DCGANDiscriminator(channels=1, size=28, width=64, fc_hidden=1024)
    lin = [(m.in_features, m.out_features) for m in G.modules() if isinstance(m, torch.nn.Linear)]
    ups = [(m.in_channels, m.out_channels) for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert lin == [(74, 1024), (1024, 7 * 7 * 128)] and ups == [(128, 64), (64, 1)]
    convs = [(m.in_channels, m.out_channels) for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    d_lin = [(m.in_features, m.out_features) for m in D.modules() if isinstance(m, torch.nn.Linear)]
    assert convs == [(1, 64), (64, 128)] and d_lin == [(128 * 7 * 7, 1024), (1024, 1)]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in G.modules()) == 2
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in D.modules()) == 1
    x = G(torch.randn(4, 74))
    assert x.shape == (4, 1, 28, 28) and D(x).shape == (4,) and D.features(x).shape == (4, 1024)
    assert D.feature_dim == 1024


def test_four_layers_of_5x5_give_carpedm20s_28px_nets():
    """carpedm20/DCGAN-tensorflow at 28 x 28 x 3, gf_dim = df_dim = 64 (PacGAN's Stacked MNIST nets): G = linear
    z -> 2x2x512-BN-ReLU, then 5x5 stride-2 up-convs to 4x4x256, 7x7x128, 14x14x64 (BN-ReLU) and 28x28x3 (tanh);
    D = 5x5 stride-2 convs to 14x14x64 (LReLU), 7x7x128, 4x4x256, 2x2x512 (BN-LReLU), linear to 1."""
    G = DCGANGenerator(z_dim=100, channels=3, size=28, width=64, layers=4, kernel=5)
    D = DCGANDiscriminator(channels=3, size=28, width=64, layers=4, kernel=5)
    maps = []
    for m in G.modules():
        if isinstance(m, torch.nn.ConvTranspose2d):  # ProjectZ is one too
            m.register_forward_hook(lambda mod, args, out: maps.append(tuple(out.shape[1:])))
    for m in D.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(lambda mod, args, out: maps.append(tuple(out.shape[1:])))
    assert D(G(torch.randn(2, 100))).shape == (2,)
    assert maps == [(512, 2, 2), (256, 4, 4), (128, 7, 7), (64, 14, 14), (3, 28, 28),
                    (64, 14, 14), (128, 7, 7), (256, 4, 4), (512, 2, 2), (1, 1, 1)]
    assert {m.kernel_size for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)} == {(2, 2), (5, 5)}
    # weights counted by hand: G 100*2048 + 25*(512*256 + 256*128 + 128*64 + 64*3) + 3 + BN 2*(512+256+128+64);
    # D 25*(3*64 + 64*128 + 128*256 + 256*512) + 64 + BN 2*(128+256+512) + 2048 + 1
    assert sum(p.numel() for p in G.parameters()) == 204_800 + 25 * 172_224 + 3 + 1_920 == 4_512_323
    assert sum(p.numel() for p in D.parameters()) == 25 * 172_224 + 64 + 1_792 + 2_049 == 4_309_505


def test_dcgan_rejects_unsupported_size():
    with pytest.raises(ValueError, match="28, 32, 64"):
        DCGANGenerator(size=48)


@pytest.mark.parametrize("shape", [(2,), (1, 28, 28)])
def test_mlp_shapes(shape):
    G = MLPGenerator(8, shape, hidden=32, tanh=len(shape) == 3)
    D = MLPDiscriminator(shape, hidden=32, dropout=0.2)
    x = G(torch.randn(4, 8))
    assert x.shape == (4, *shape) and D(x).shape == (4,)


def test_layer_norm_critic_scores_each_sample_on_its_own(seed):
    """A gradient penalty needs per-sample critic outputs: with d_norm=layer the score of an image does
    not depend on the rest of the batch (with batch norm in training mode it does)."""
    from genzoo.nets import DCGANDiscriminator
    torch.manual_seed(seed(0))
    x = torch.randn(8, 1, 28, 28)
    for norm, independent in (("layer", True), ("batch", False)):
        D = DCGANDiscriminator(1, 28, 16, norm=norm).train()
        alone = D(x[:1])[0]
        in_batch = D(x)[0]
        assert torch.allclose(alone, in_batch, atol=1e-5) == independent, norm


@pytest.mark.parametrize("channels_last", [False, True])
def test_project_z_is_the_transposed_convolution_it_replaces(channels_last):
    """G's first layer computes, as one matrix product, what ConvTranspose2d(k = s0) gives on a 1 x 1 input."""
    from genzoo.nets.dcgan import ProjectZ

    torch.manual_seed(0)
    conv = torch.nn.ConvTranspose2d(10, 6, 7, 1, 0, bias=True)
    torch.nn.init.normal_(conv.bias)
    proj = ProjectZ(10, 6, 7, 1, 0, bias=True)
    proj.load_state_dict(conv.state_dict())
    if channels_last:
        proj = proj.to(memory_format=torch.channels_last)
    z = torch.randn(5, 10, requires_grad=True)
    y, ref = proj(z), conv(z[:, :, None, None])
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-6)
    g = torch.randn_like(ref)
    (gz,) = torch.autograd.grad(y, z, g)
    (rz,) = torch.autograd.grad(ref, z, g)
    torch.testing.assert_close(gz, rz, rtol=1e-5, atol=1e-6)
    assert y.is_contiguous(memory_format=torch.channels_last) == channels_last
