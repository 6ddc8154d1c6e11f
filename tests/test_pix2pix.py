"""pix2pix: network shapes and receptive fields, paired data and pair builders against hand-made images,
the objective's composition, the paired metrics, a model that learns, exact resume and the CLI."""
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.training import checkpoint
from genzoo.training.build import build_algo, dataset_for
from genzoo.cli import main
from genzoo.config_files import load_recipe
from genzoo.data.pairs import downsample, edge_map, load_pairs, luma, random_box, split_ab
from genzoo.errors import GenzooError
from genzoo.metrics.paired import colourfulness, psnr, ssim
from genzoo.nets.patchgan import PatchGAN, auto_layers, receptive_field
from genzoo.nets.unet import UNetGenerator, auto_depth
from genzoo.training.loop import train

SMALL = ["data.dataset=embedded", "data.task=edges", "model.g_width=8", "model.d_width=8", "train.batch_size=8",
         "train.sample_every=10", "train.ckpt_every=10", "train.keep_ckpts=0", "train.precision=fp32"]


def _cfg(steps, extra=()):
    cfg = load_recipe("pix2pix")
    cfg.apply_overrides(SMALL + list(extra))
    cfg.set("train.steps", steps)
    return cfg


# -- networks ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size,depth", [(32, 5), (28, 2), (64, 6), (16, 4)])
def test_unet_shapes(size, depth):
    assert auto_depth(size) == depth
    G = UNetGenerator(3, 2, size, width=4)
    y = G(torch.randn(2, 3, size, size))
    assert y.shape == (2, 2, size, size) and y.abs().max() <= 1
    # fully convolutional: twice the size works with the same weights
    assert G(torch.randn(1, 3, 2 * size, 2 * size)).shape == (1, 2, 2 * size, 2 * size)
    with pytest.raises(ValueError, match="not divisible"):
        G(torch.randn(1, 3, size + 2 ** depth // 2, size))


def test_unet_skips_reach_the_output():
    """With skip connections the output at a pixel depends on the input at that pixel directly."""
    G = UNetGenerator(1, 1, 16, width=4, dropout=0.0).eval()
    x = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)).requires_grad_()
    G(x)[0, 0, 5, 7].backward()
    assert x.grad[0, 0, 5, 7] != 0


@pytest.mark.parametrize("n,rf", [(1, 16), (2, 34), (3, 70)])
def test_patchgan_receptive_field(n, rf):
    assert receptive_field(n) == rf
    D = PatchGAN(4, width=4, n_layers=n)
    for m in D.modules():  # a clean measurement: every weight positive, no normalisation
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.constant_(m.weight, 0.01)
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    x = torch.ones(1, 4, 160, 160, requires_grad=True)
    out = D(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0].abs().sum(0).sum(1)).flatten()
    assert rows.max() - rows.min() + 1 == rf  # the patch one logit sees, measured by its gradient


def test_patch_layers_scale_with_image_size():
    assert [auto_layers(s) for s in (28, 32, 64, 128, 256)] == [1, 1, 1, 2, 3]
    assert PatchGAN(2, 8, 1)(torch.randn(3, 2, 32, 32)).shape == (3, 1, 14, 14)  # 32 -> 16 (stride 2) -> 15 -> 14 (4x4, stride 1, pad 1)


# -- paired data -----------------------------------------------------------------------------------------
def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_ab_files_split_and_direction(tmp_path):
    ab = np.zeros((8, 16, 3), np.uint8)
    ab[:, :8] = (255, 0, 0)   # A: red
    ab[:, 8:] = (0, 0, 255)   # B: blue
    for i in range(3):
        _png(tmp_path / "ab" / "train" / f"{i}.png", ab)
    d = load_pairs(f"folder:{tmp_path / 'ab'}", "ab")
    assert d.sample_shape == (3, 3, 8, 8) and len(d) == 3
    assert d.a[:, 0].eq(255).all() and d.x[:, 2].eq(255).all() and d.x[:, 0].eq(0).all()
    r = load_pairs(f"folder:{tmp_path / 'ab'}", "ab", direction="BtoA")
    assert r.a[:, 2].eq(255).all() and r.x[:, 0].eq(255).all()
    with pytest.raises(GenzooError, match="even width"):
        split_ab(torch.zeros(1, 3, 4, 7))


def test_parallel_folders(tmp_path):
    for name, v in (("x1", 10), ("x2", 20)):
        _png(tmp_path / "p" / "A" / f"{name}.png", np.full((4, 4), v, np.uint8))
        _png(tmp_path / "p" / "B" / f"{name}.jpg", np.full((4, 4, 3), v + 1, np.uint8))
    d = load_pairs(f"folder:{tmp_path / 'p'}", "folders")
    assert d.sample_shape == (1, 3, 4, 4)
    assert d.a[:, 0, 0, 0].tolist() == [10, 20] and d.x[:, 0, 0, 0].tolist() == [11, 21]
    _png(tmp_path / "p" / "A" / "x3.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(GenzooError, match="without a partner"):
        load_pairs(f"folder:{tmp_path / 'p'}", "folders")


def test_pair_builders_on_hand_made_images():
    rgb = torch.tensor([200, 100, 50], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    assert luma(rgb).unique().item() == round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)
    # a white square on black: edges on its outline only
    sq = torch.zeros(1, 1, 24, 24, dtype=torch.uint8)
    sq[..., 8:16, 8:16] = 255
    for method in ("canny", "sobel"):
        e = edge_map(sq, method)[0, 0] == 0                          # black lines on white
        assert e.any(), method
        ys, xs = torch.nonzero(e, as_tuple=True)
        assert ys.min() >= 5 and ys.max() <= 18 and xs.min() >= 5 and xs.max() <= 18, method  # near the outline
        assert not e[11:13, 11:13].any(), method                    # not inside the flat interior
    # super-resolution inputs: a constant image survives, the finest checkerboard becomes flat grey
    assert downsample(torch.full((1, 1, 8, 8), 77, dtype=torch.uint8), 4).eq(77).all()
    cb = ((torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * 255).to(torch.uint8).view(1, 1, 8, 8)
    assert (downsample(cb, 2).float() - 127.5).abs().max() <= 4  # a few levels off only at the border
    # inpainting: exactly one grey box per image, each side between 1/4 and 1/2 of the image's
    x = torch.ones(50, 3, 32, 32)
    box = random_box(x, torch.Generator().manual_seed(0)) == 0
    for b in box:
        ys, xs = torch.nonzero(b[0], as_tuple=True)
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert 8 <= h <= 16 and 8 <= w <= 16 and b[0].sum() == h * w and b.all(0).equal(b[0])


def test_gray2color_needs_colour():
    with pytest.raises(GenzooError, match="gray2color needs colour images"):
        load_pairs("embedded", "gray2color")
    with pytest.raises(GenzooError, match="unknown pix2pix task"):
        load_pairs("embedded", "colourise")



@pytest.mark.parametrize("key", ["optim.lr_half_life", "optim.lr_drop_at"])
def test_pix2pix_refuses_a_learning_rate_schedule(key):
    cfg = load_recipe("pix2pix", "embedded")
    cfg.set(key, 100)
    with pytest.raises(GenzooError, match="pix2pix keeps its learning rates constant"):
        build_algo(cfg, (1, 1, 32, 32), torch.device("cpu"))


def test_g_steps_is_refused_outside_gans(tmp_path, capsys):
    cfg = load_recipe("pix2pix", "embedded")
    cfg.set("train.g_steps", 2)
    with pytest.raises(GenzooError, match="train.g_steps applies to GANs"):
        build_algo(cfg, (1, 1, 32, 32), torch.device("cpu"))
    assert main(["train", "vae", "--steps", "1", "--out", str(tmp_path / "r"), "--set", "train.g_steps=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genzoo: error: train.g_steps applies to GANs") and "\n" not in err


# -- objective and metrics ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["l1+cgan", "cgan", "l1", "l1+gan"])
def test_loss_composition(mode):
    """G's loss is adv + λ·L1, recomputed here from its own nets: λ = 0 (cgan) leaves the pure cGAN loss."""
    cfg = _cfg(1, [f"loss.mode={mode}", "model.g_dropout=0"])
    algo = build_algo(cfg, (1, 1, 32, 32))
    assert (algo.D is None) == (mode == "l1")
    a, b = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1
    G_state = {k: v.clone() for k, v in algo.G.state_dict().items()}
    out = algo.g_step({"a": a, "x": b})
    algo.G.load_state_dict(G_state)  # recompute the loss with the weights the step started from
    fake = algo.G(a)
    l1 = (fake - b).abs().mean().item()
    lam = {"cgan": 0.0}.get(mode, 100.0)
    if mode == "l1":
        assert out["loss_g"] == pytest.approx(100 * l1, rel=1e-4)
        return
    d_in = torch.cat([a, fake], 1) if mode in ("l1+cgan", "cgan") else fake
    adv = torch.nn.functional.softplus(-algo.D(d_in)).mean().item()  # non-saturating: -log D(a, G(a))
    assert out["loss_g_adv"] == pytest.approx(adv, rel=1e-4)
    assert out["loss_g"] == pytest.approx(adv + lam * l1, rel=1e-4)


def test_objective_settings_reach_d_and_g():
    """LSGAN's labels, one-sided smoothing and flipping act on pix2pix's D and G as on the GAN's: D's loss is
    0.5*(mean((r - (b - s))^2) + mean((f - a)^2)), G's adversarial term 0.5*mean((f - c)^2)."""
    cfg = _cfg(1, ["loss.name=lsgan", "loss.lsgan_a=-1", "loss.lsgan_b=1", "loss.lsgan_c=0.5",
                   "loss.label_smoothing=0.2", "model.g_dropout=0", "model.d_norm=none"])
    algo = build_algo(cfg, (1, 1, 32, 32))
    a, b = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1
    D_state = {k: v.clone() for k, v in algo.D.state_dict().items()}
    with torch.no_grad():
        fake = algo.G(a)
        r, f = algo.D(torch.cat([a, b], 1)), algo.D(torch.cat([a, fake], 1))
    out = algo.d_step({"a": a, "x": b})
    assert out["loss_d"] == pytest.approx((0.5 * ((r - 0.8).pow(2).mean() + (f + 1).pow(2).mean())).item(), rel=1e-4)
    algo.D.load_state_dict(D_state)
    out = algo.g_step({"a": a, "x": b})
    assert out["loss_g_adv"] == pytest.approx((0.5 * (f - 0.5).pow(2).mean()).item(), rel=1e-4)
    cfg.set("loss.label_flip", 1.0)
    cfg.set("loss.label_smoothing", 0.0)
    flipped = build_algo(cfg, (1, 1, 32, 32))
    flipped.G.load_state_dict(algo.G.state_dict())
    flipped.D.load_state_dict(D_state)
    out = flipped.d_step({"a": a, "x": b})  # every target swapped: real -> a = -1, fake -> b = 1
    assert out["loss_d"] == pytest.approx((0.5 * ((r + 1).pow(2).mean() + (f - 1).pow(2).mean())).item(), rel=1e-4)


def test_paired_metrics_hand_worked():
    x = torch.full((1, 3, 8, 8), 0.5)
    assert psnr(x, x + 0.1).item() == pytest.approx(20.0, abs=1e-3)          # MSE 0.01 -> 20 dB
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    a, b, c1 = 0.2, 0.6, 0.01 ** 2
    want = (2 * a * b + c1) / (a * a + b * b + c1)                             # flat images: luminance term only
    assert ssim(torch.full((1, 1, 12, 12), a), torch.full((1, 1, 12, 12), b)).item() == pytest.approx(want, rel=1e-5)
    noise = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert ssim(noise, 1 - noise).item() < 0                                   # anti-correlated structure
    assert colourfulness(x).item() == 0.0
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1.0
    assert colourfulness(red).item() == pytest.approx(0.3 * math.hypot(255, 127.5), rel=1e-5)


# -- training -------------------------------------------------------------------------------------------------
def test_pix2pix_learns_super_resolution(tmp_path, seed):
    cfg = _cfg(300, ["data.task=downsample", "data.scale=2", "loss.mode=l1", "model.g_width=16",
                     "train.sample_every=300", "train.ckpt_every=300", "optim.lr_g=0.001", f"train.seed={seed(0)}"])
    test = dataset_for(cfg, "test")
    b = test.batch(torch.arange(200))
    torch.manual_seed(seed(0))

    def err(algo):
        return (algo.translate(b["a"]).cpu() - b["x"]).abs().mean().item()
    before = err(build_algo(cfg, test.sample_shape))
    from genzoo.run import Run
    after = err(Run.open(train(cfg, tmp_path / "sr", progress=False)).algo)
    bicubic = (b["a"] - b["x"]).abs().mean().item()
    assert after < 0.3 * before and after < 1.5 * bicubic, (before, after, bicubic)


def test_pix2pix_resume_is_exact(tmp_path):
    extra = ["data.task=mask"]  # the boxes and the dropout masks are drawn from the checkpointed RNG
    extra += ["train.ckpt_every=6", "train.sample_every=100"]
    train(_cfg(12, extra), tmp_path / "straight", progress=False)
    train(_cfg(6, extra), tmp_path / "split", progress=False)
    train(_cfg(12, extra), tmp_path / "split", resume=True, progress=False)
    from safetensors.torch import load_file

    def final(run):
        return load_file(str(checkpoint.latest(run / "checkpoints").with_suffix(".safetensors")))
    a, b = final(tmp_path / "straight"), final(tmp_path / "split")
    assert a.keys() == b.keys() and any(k.startswith("algo.nets.D") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_cli_pix2pix(tmp_path, capsys):
    run = tmp_path / "p"
    args = ["train", "pix2pix", "--task", "edges", "--dataset", "embedded", "--steps", "20", "--out", str(run),
            "--quiet"] + [a for kv in SMALL[2:] for a in ("--set", kv)]
    assert main(args) == 0
    assert main(["sample", str(run), "--n", "8"]) == 0
    assert Image.open(run / "samples.png").size[0] > 12 * 32
    assert main(["sample", str(run), "--variations", "3", "--n", "4"]) == 0
    assert "mean L1 between outputs for the same input" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--n", "300"]) == 0
    m = json.loads((run / "metrics.json").read_text())["metrics"]
    assert {"l1", "psnr", "ssim", "fid[lenet-mnist]"} <= m.keys() and m["l1"]["n"] == 300
    _png(tmp_path / "in32.png", np.full((32, 32), 255, np.uint8))
    _png(tmp_path / "in28.png", np.full((28, 28, 3), 255, np.uint8))
    assert main(["translate", str(run), str(tmp_path / "in32.png"), "--out", str(tmp_path / "o")]) == 0
    assert Image.open(tmp_path / "o" / "in32.png").size == (32, 32)
    assert main(["translate", str(run), str(tmp_path / "in28.png"), "--out", str(tmp_path / "o")]) == 2
    assert "pass --resize" in capsys.readouterr().err
    assert main(["translate", str(run), str(tmp_path / "in28.png"), "--out", str(tmp_path / "o"), "--resize"]) == 0
    assert main(["train", "pix2pix", "--dataset", "embedded", "--task", "gray2color", "--out", str(tmp_path / "g")]) == 2
    assert "gray2color needs colour images" in capsys.readouterr().err


def test_short_colourisation_run_on_cifar_lowers_l1(tmp_path, cifar_test, seed):
    """A few hundred CIFAR-10 images as a folder dataset: gray2color with the full objective."""
    import shutil

    classes = sorted(p.name for p in (cifar_test / "test").iterdir())[:4]
    for split, lo, hi in (("train", 0, 100), ("test", 100, 125)):  # 400 train, 100 test images
        for c in classes:
            dst = tmp_path / "cif" / split / c
            dst.mkdir(parents=True)
            for f in sorted((cifar_test / "test" / c).iterdir())[lo:hi]:
                shutil.copy(f, dst / f.name)
    cfg = load_recipe("pix2pix", f"folder:{tmp_path / 'cif'}")
    cfg.apply_overrides(["model.g_width=16", "model.d_width=16", "train.batch_size=16", "train.steps=300",
                         "train.sample_every=300", "train.ckpt_every=300", "train.precision=fp32",
                         f"train.seed={seed(0)}"])
    test = dataset_for(cfg, "test")
    assert test.sample_shape == (1, 3, 32, 32) and len(test) == 100
    b = test.batch(torch.arange(100))
    torch.manual_seed(seed(0))
    before = (build_algo(cfg, test.sample_shape).translate(b["a"]) - b["x"]).abs().mean().item()
    from genzoo.run import Run
    algo = Run.open(train(cfg, tmp_path / "run", progress=False)).algo
    after = (algo.translate(b["a"]) - b["x"]).abs().mean().item()
    assert after < 0.6 * before, (before, after)
