"""Conditional GANs (CGAN, projection, ACGAN) and InfoGAN: label plumbing, the projection
discriminator and Q loss against hand computations, and a short run that must learn its labels."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from genzoo.training.build import build_algo
from genzoo.cli import main
from genzoo.config_files import load_recipe
from genzoo.errors import GenzooError
from genzoo.evaluation import evaluate
from genzoo.metrics.conditional import category_accuracy, label_accuracy
from genzoo.nets import DCGANDiscriminator
from genzoo.nets.conditional import ConditionalD

TINY = ["--set", "model.g_width=8", "--set", "model.d_width=8", "--quiet"]


@pytest.mark.parametrize("cond", ["concat", "projection", "acgan", "info"])
@pytest.mark.parametrize("loss", ["minimax", "nsgan", "lsgan", "wgan", "wgan-gp", "hinge"])
def test_every_conditioning_with_every_objective(cond, loss):
    cfg = load_recipe("dcgan")
    cfg.set("model.cond", cond)
    cfg.set("loss.name", loss)
    cfg.set("model.g_width", 8)
    cfg.set("model.d_width", 8)
    algo = build_algo(cfg, (1, 28, 28), torch.device("cpu"))
    batch = {"x": torch.rand(8, 1, 28, 28) * 2 - 1, "y": torch.arange(8) % 10}
    out = {**algo.d_step(batch), **algo.g_step(batch)}
    assert math.isfinite(out["loss_d"]) and math.isfinite(out["loss_g"])
    assert ("l_i" in out) == (cond == "info") and ("aux_ce_real" in out) == (cond == "acgan")


def test_projection_discriminator_matches_hand_computation():
    torch.manual_seed(0)
    base = DCGANDiscriminator(1, 28, 8)
    D = ConditionalD(base, "projection", num_classes=10).eval()
    x, y = torch.randn(5, 1, 28, 28), torch.tensor([0, 3, 3, 9, 1])
    with torch.no_grad():
        h = base.features(x)
        phi = h.flatten(1)
        psi = (h * base.head.weight[0]).sum((1, 2, 3)) + base.head.bias[0]   # the head conv, as a dot product
        inner = torch.stack([phi[i] @ D.embed.weight[y[i]] for i in range(5)])
        assert torch.allclose(D(x, y), psi + inner, atol=1e-5)
        # the label matters: another class changes exactly the inner-product term
        y2 = (y + 1) % 10
        delta = torch.stack([phi[i] @ (D.embed.weight[y2[i]] - D.embed.weight[y[i]]) for i in range(5)])
        assert torch.allclose(D(x, y2) - D(x, y), delta, atol=1e-5)


def test_infogan_categorical_q_loss_is_the_hand_cross_entropy():
    cfg = load_recipe("infogan")
    cfg.set("loss.info_weight_cont", 0.0)
    algo = build_algo(cfg, (1, 28, 28), torch.device("cpu"))
    latent = algo.sample_z(6, torch.Generator().manual_seed(0))
    q = torch.randn(6, 12)
    out = {}
    loss = algo._aux_loss(q, latent, out)
    cat = latent[:, 62:72].argmax(1)
    logq = q[:, :10].double().numpy()
    hand = np.mean([math.log(np.exp(logq[i]).sum()) - logq[i, cat[i]] for i in range(6)])
    assert loss.item() == pytest.approx(hand, rel=1e-5)
    assert out["l_i"] == pytest.approx(math.log(10) - hand, rel=1e-5)
    cont = latent[:, 72:]
    assert out["info_cont"] == pytest.approx(0.5 * ((q[:, 10:] - cont) ** 2).sum(1).mean().item(), rel=1e-5)
    assert ((cont >= -1) & (cont <= 1)).all() and torch.equal(latent[:, 62:72].sum(1), torch.ones(6))


@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_z_scale_scales_the_noise_but_not_the_codes(dist):
    cfg = load_recipe("infogan")
    cfg.set("model.z_dist", dist)
    base = build_algo(cfg, (1, 28, 28), torch.device("cpu")).sample_z(4000, torch.Generator().manual_seed(3))
    cfg.set("model.z_scale", 0.25)
    algo = build_algo(cfg, (1, 28, 28), torch.device("cpu"))
    latent = algo.sample_z(4000, torch.Generator().manual_seed(3))
    assert torch.allclose(latent[:, :62], 0.25 * base[:, :62]) and torch.equal(latent[:, 62:], base[:, 62:])
    std = 1.0 if dist == "normal" else 1 / math.sqrt(3)  # U[-1, 1] has variance 1/3
    assert latent[:, :62].std().item() == pytest.approx(0.25 * std, rel=0.02)
    with pytest.raises(GenzooError, match=r"model.z_scale must be a finite number > 0, got 0.0"):
        cfg.set("model.z_scale", 0.0)


def test_z_warmup_fades_the_noise_in_but_not_the_codes():
    cfg = load_recipe("infogan")
    cfg.set("model.z_warmup", 10)
    algo = build_algo(cfg, (1, 28, 28), torch.device("cpu"))
    for done, factor in ((0, 0.0), (5, 0.5), (10, 1.0), (30, 1.0)):
        algo.d_steps_done = done
        torch.manual_seed(1)
        warm = algo._train_latent(16)
        torch.manual_seed(1)
        full = algo.sample_z(16)
        assert torch.allclose(warm[:, :62], factor * full[:, :62]) and torch.equal(warm[:, 62:], full[:, 62:])


def test_metric_helpers():
    assert label_accuracy(np.array([1, 2, 3, 3]), np.array([1, 2, 0, 3])) == 0.75
    cats = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([7, 7, 2, 2, 5, 4])   # category 0 -> 7, 1 -> 2, 2 -> 5 or 4
    acc, mapping = category_accuracy(pred, cats, 3, 10)
    assert acc == pytest.approx(5 / 6) and mapping[:2] == [7, 2] and mapping[2] in (4, 5)


def test_label_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "cgan", "--set", "num_classes=5", "--steps", "2", "--out", str(tmp_path / "a")] + TINY) == 2
    assert "has labels 0..9, outside 0..4" in capsys.readouterr().err
    assert main(["train", "acgan", "--dataset", "toy:ring8", "--steps", "2", "--out", str(tmp_path / "b")] + TINY) == 2
    assert "needs labelled data" in capsys.readouterr().err
    assert main(["train", "cgan", "--steps", "3", "--out", str(tmp_path / "c")] + TINY) == 0
    assert main(["sample", str(tmp_path / "c"), "--label", "10"]) == 2
    assert "--label 10 is outside 0..9" in capsys.readouterr().err
    assert main(["train", "dcgan", "--steps", "3", "--out", str(tmp_path / "d")] + TINY) == 0
    assert main(["sample", str(tmp_path / "d"), "--label", "3"]) == 2
    assert "needs a conditional run" in capsys.readouterr().err
    assert main(["traverse", str(tmp_path / "c"), "--code", "0"]) == 2


def test_class_grid_and_traversal_images(tmp_path):
    assert main(["train", "infogan", "--steps", "3", "--out", str(tmp_path / "i")] + TINY) == 0
    assert main(["sample", str(tmp_path / "i"), "--grid-by-class", "--n", "6", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size == (2 * (6 * 30 + 2), 2 * (10 * 30 + 2))   # 10 rows x 6 columns
    assert main(["traverse", str(tmp_path / "i"), "--code", "1", "--steps", "7"]) == 0
    assert Image.open(tmp_path / "i" / "traverse_code1.png").size == (2 * (7 * 30 + 2), 2 * (10 * 30 + 2))
    assert main(["traverse", str(tmp_path / "i"), "--code", "2"]) == 2          # only codes 0 and 1 exist


def test_short_cgan_run_learns_its_labels(tmp_path, seed):
    """400 steps on the embedded MNIST: the classifier must agree with the requested label far more
    often than chance (10%), and every label must be produced."""
    run = tmp_path / "cgan"
    assert main(["train", "cgan", "--steps", "400", "--out", str(run), "--quiet", "--seed", str(seed(0))]) == 0
    res = evaluate(run, n=2000, metrics="modes", seed=seed(0))["metrics"]
    assert res["label_accuracy"]["value"] > 0.3     # 3x chance; 0.445 measured at 400 steps
    assert res["modes"]["classes_covered"] == 10
    # sample --label really conditions: most of a one-class batch is that digit
    from genzoo.metrics.classifier import load_classifier
    from genzoo.data import to_uint8
    from genzoo.explore.latent import with_code
    from genzoo.metrics.features import extract
    from genzoo.run import Run
    algo = Run.open(run).algo
    z = with_code(algo, algo.sample_z(200, torch.Generator().manual_seed(seed(1))), 7)
    pred = extract(load_classifier("mnist")[0], to_uint8(algo.generate(z))).probs.argmax(1)
    assert (pred == 7).mean() > 0.3
    assert F.one_hot(torch.tensor(7), 10).tolist() == z[0, algo.z_dim:].tolist()
