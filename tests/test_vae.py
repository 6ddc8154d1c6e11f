"""Autoencoders and VAEs: likelihoods and bounds against hand-worked values and independent estimates,
a model that must learn, exact resume, the CVAE's labels, and the CLI."""
import json
import math

import numpy as np
import pytest
import torch

from genzoo.training import checkpoint
from genzoo.training.build import build_algo, dataset_for
from genzoo.cli import main
from genzoo.config_files import load_recipe
from genzoo.errors import GenzooError
from genzoo.losses.vae import decoder_mean, gaussian_kl, gaussian_log_density, iwae_bound, log_likelihood
from genzoo.metrics.likelihood import heldout_likelihood
from genzoo.training.loop import train

SMALL = ["model.mlp_hidden=64", "train.batch_size=64", "train.sample_every=100", "train.ckpt_every=100",
         "train.log_every=10", "train.keep_ckpts=0"]


def _cfg(recipe, steps, extra=(), seed=0):
    cfg = load_recipe(recipe)
    cfg.apply_overrides(SMALL + list(extra))
    cfg.set("train.steps", steps)
    cfg.set("train.seed", seed)
    return cfg


# -- pure functions ------------------------------------------------------------------------------
def test_elbo_hand_worked():
    """Two pixels x = (1, 0), logits (0, ln 3): p = (1/2, 3/4), so log p(x|z) = ln 1/2 + ln 1/4 = -ln 8.
    q = N(1, 1) against N(0, 1): KL = (1 + 1 - 0 - 1) / 2 = 1/2. ELBO = -ln 8 - 1/2."""
    x = torch.tensor([[1.0, 0.0]])
    logits = torch.tensor([[0.0, math.log(3.0)]])
    ll = log_likelihood("bernoulli", logits, x)
    kl = gaussian_kl(torch.tensor([[1.0]]), torch.tensor([[0.0]]))
    assert ll.item() == pytest.approx(-math.log(8.0), abs=1e-6)
    assert kl.item() == pytest.approx(0.5, abs=1e-7)
    assert (ll - kl).item() == pytest.approx(-math.log(8.0) - 0.5, abs=1e-6)
    # q = N(0, e^-2): KL = (0 + e^-2 + 2 - 1) / 2
    assert gaussian_kl(torch.zeros(1, 1), torch.full((1, 1), -2.0)).item() == pytest.approx(
        (math.exp(-2) + 1) / 2, abs=1e-6)


def test_analytic_kl_matches_monte_carlo(seed):
    torch.manual_seed(seed(0))
    mu, logvar = torch.tensor([[0.7, -1.2, 0.1]]), torch.tensor([[-0.5, 0.8, -2.0]])
    z = mu + torch.randn(400_000, 3) * (0.5 * logvar).exp()
    mc = (gaussian_log_density(z, mu, logvar) - gaussian_log_density(z)).mean().item()
    assert mc == pytest.approx(gaussian_kl(mu, logvar).item(), rel=0.01)


def test_gaussian_and_continuous_bernoulli_likelihoods():
    x = torch.tensor([[0.2, 0.9, 0.5]])
    logits = torch.tensor([[-1.0, 2.0, 0.0]])
    log_sigma = torch.tensor([-1.0, 0.0, -2.0])
    mean = torch.sigmoid(logits)
    want = torch.distributions.Normal(mean, log_sigma.exp()).log_prob(x).sum()
    assert log_likelihood("gaussian", logits, x, log_sigma).item() == pytest.approx(want.item(), abs=1e-5)
    # continuous Bernoulli: the density must integrate to 1 over [0, 1], also near lambda = 1/2
    grid = torch.linspace(0, 1, 20001)[:, None]
    for logit in (-3.0, -0.02, 0.0, 0.003, 1.5):
        dens = log_likelihood("cbernoulli", torch.full_like(grid, logit), grid).exp()
        assert torch.trapezoid(dens, grid[:, 0]).item() == pytest.approx(1.0, abs=2e-4), logit
        m = torch.trapezoid(dens * grid[:, 0], grid[:, 0]).item()
        assert decoder_mean("cbernoulli", torch.tensor([logit])).item() == pytest.approx(m, abs=2e-4), logit


def test_iwae_bound_is_logmeanexp():
    lw = torch.tensor([[0.0, -1.0], [math.log(3.0), -1.0]])  # k = 2 weights per column
    assert torch.allclose(iwae_bound(lw), torch.tensor([math.log(2.0), -1.0]))


# -- the algo ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_vae(tmp_path_factory, seed):
    run = train(_cfg("vae", 300, ["model.z_dim=8"], seed(0)), tmp_path_factory.mktemp("vae") / "r", progress=False)
    from genzoo.run import Run
    r = Run.open(run)
    cfg, algo = r.cfg, r.algo
    return run, cfg, algo


def test_iwae_bounds_tighten_with_k(trained_vae, seed):
    _, cfg, algo = trained_vae
    x = dataset_for(cfg, "test").batch(torch.arange(400))["x"]
    r1 = heldout_likelihood(algo, x, None, k=1, seed=seed(0))
    r10 = heldout_likelihood(algo, x, None, k=10, seed=seed(0))
    r100 = heldout_likelihood(algo, x, None, k=100, seed=seed(0))
    assert -r1["nll"] == pytest.approx(r1["elbo"], abs=1.0)  # k = 1 is the ELBO, up to sampling noise
    assert -r10["nll"] > r1["elbo"] + 0.5                    # IWAE(k) >= ELBO
    assert -r100["nll"] > -r10["nll"]                         # and does not decrease with k on average


def test_terms_compose_the_pure_functions(trained_vae, seed):
    """The algo's one-sample terms equal the formulas applied to its own encoder and decoder."""
    _, cfg, algo = trained_vae
    x01 = torch.bernoulli(torch.full((5, 1, 28, 28), 0.3), generator=torch.Generator().manual_seed(seed(1)))
    torch.manual_seed(seed(7))
    t = algo.terms(x01)
    torch.manual_seed(seed(7))
    mu, logvar = algo.E(x01 * 2 - 1)
    z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
    p = torch.sigmoid(algo.Dec(z))
    ll = (x01 * p.log() + (1 - x01) * (1 - p).log()).flatten(1).sum(1)
    kl = 0.5 * (mu ** 2 + logvar.exp() - logvar - 1).sum(1)
    assert torch.allclose(t["rec"], -ll, atol=1e-3) and torch.allclose(t["kl"], kl, atol=1e-4)


def test_conv_vae_elbo_improves_on_embedded(tmp_path, seed):
    cfg = _cfg("vae", 150, ["model.arch=dcgan", "model.g_width=16", "model.d_width=16", "model.z_dim=16",
                            "loss.kl_warmup=0"], seed(0))
    test = dataset_for(cfg, "test")
    x = test.batch(torch.arange(500))["x"]
    torch.manual_seed(seed(0))
    before = heldout_likelihood(build_algo(cfg, test.sample_shape), x, None, k=1)["elbo"]
    run = train(cfg, tmp_path / "conv", progress=False)
    from genzoo.run import Run
    after = heldout_likelihood(Run.open(run).algo, x, None, k=1)["elbo"]
    assert before < -400 and after > -200, (before, after)   # 784 binary pixels: ln 2 * 784 = 543 nats at chance


def test_vae_resume_is_exact(tmp_path, seed):
    # warm-up, lr decay, a step drop before the split and binarisations resume exactly
    extra = ["loss.kl_warmup=60", "optim.lr_half_life=30", "optim.lr_drop_at=35", "optim.lr_drop=0.5"]
    train(_cfg("vae", 80, extra, seed(0)), tmp_path / "straight", progress=False)
    train(_cfg("vae", 40, extra, seed(0)), tmp_path / "split", progress=False)
    train(_cfg("vae", 80, extra, seed(0)), tmp_path / "split", resume=True, progress=False)
    from safetensors.torch import load_file

    def final(run):
        return load_file(str(checkpoint.latest(run / "checkpoints").with_suffix(".safetensors")))
    a, b = final(tmp_path / "straight"), final(tmp_path / "split")
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        assert torch.equal(a[k], b[k]), k
    last = json.loads((tmp_path / "split" / "log.jsonl").read_text().splitlines()[-1])
    assert last["beta"] == 1.0 and last["step"] == 80
    from genzoo.run import Run
    lr0 = _cfg("vae", 80, extra).optim.lr  # the last step (79 done before it) ran at lr0 * 0.5 ** (79 / 30) * 0.5
    rate = Run.open(tmp_path / "split").algo.opts["VAE"].param_groups[0]["lr"]
    assert rate == pytest.approx(lr0 * 0.5 ** (79 / 30) * 0.5)


def test_ae_and_beta_vae_objectives(tmp_path, seed):
    ae = build_algo(_cfg("ae", 1), (1, 28, 28))
    assert not ae.stochastic and ae.beta == 0.0
    out = ae.step({"x": torch.rand(8, 1, 28, 28) * 2 - 1})
    assert out["kl"] == 0.0 and out["loss"] == pytest.approx(out["rec"], rel=1e-6)
    bv = build_algo(_cfg("beta-vae", 1, ["model.g_width=8", "model.d_width=8", "loss.kl_warmup=0"]), (1, 28, 28))
    torch.manual_seed(seed(0))
    out = bv.step({"x": torch.rand(8, 1, 28, 28).round() * 2 - 1})
    assert out["loss"] == pytest.approx(out["rec"] + 4.0 * out["kl"], rel=1e-5)


@pytest.mark.parametrize("overrides,needle", [
    (["model.likelihood=poisson"], "unknown model.likelihood 'poisson'"),
    (["model.likelihood=gaussian"], "model.binarize needs model.likelihood=bernoulli"),
    (["model.cond=projection"], "a conditional VAE uses model.cond=concat"),
])
def test_bad_vae_config(overrides, needle):
    with pytest.raises(GenzooError, match=needle):
        build_algo(_cfg("vae", 1, overrides), (1, 28, 28))


def test_vae_on_points_is_refused():
    with pytest.raises(GenzooError, match="model images"):
        build_algo(_cfg("vae", 1), (2,))


# -- conditional VAE, CLI and pictures -----------------------------------------------------------------
def _train_cvae(run, steps, seed):
    assert main(["train", "cvae", "--steps", str(steps), "--out", str(run), "--quiet", "--batch-size", "64",
                 "--set", "model.g_width=16", "--set", f"train.sample_every={steps}",
                 "--set", f"train.ckpt_every={steps}", "--set", f"train.seed={seed}"]) == 0


def test_cvae_sampling_by_label(tmp_path, capsys, seed):
    """The plumbing: --label, its range check and the class grid on a short run."""
    run = tmp_path / "cvae"
    _train_cvae(run, 30, seed(0))
    assert main(["sample", str(run), "--label", "3", "--n", "20", "--npz", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["images"].shape == (20, 28, 28, 1)
    assert main(["sample", str(run), "--label", "10"]) == 2
    assert "outside 0..9" in capsys.readouterr().err
    assert main(["sample", str(run), "--grid-by-class", "--out", str(tmp_path / "g.png")]) == 0


@pytest.mark.slow
def test_cvae_label_samples_are_that_digit(tmp_path, seed):
    """1,500 steps: most samples asked to be a 3 are classified as 3 (benchmarks/gan_vs_vae.py reports the
    cvae's label accuracy)."""
    from genzoo.metrics.classifier import load_classifier
    from genzoo.metrics.features import extract

    run = tmp_path / "cvae"
    _train_cvae(run, 1500, seed(0))
    assert main(["sample", str(run), "--label", "3", "--n", "200", "--npz", str(tmp_path / "s.npz"),
                 "--seed", str(seed(0))]) == 0
    imgs = torch.from_numpy(np.load(tmp_path / "s.npz")["images"]).permute(0, 3, 1, 2)
    pred = extract(load_classifier("mnist")[0], imgs).probs.argmax(1)
    assert (pred == 3).mean() > 0.6, np.bincount(pred, minlength=10)


def test_cli_train_evaluate_pictures_and_interpolation(tmp_path, seed):
    run = tmp_path / "v2"
    assert main(["train", "vae", "--steps", "200", "--out", str(run), "--quiet", "--set", "model.z_dim=2",
                 "--set", "model.mlp_hidden=64", "--set", f"train.seed={seed(0)}"]) == 0
    assert main(["evaluate", str(run), "--n", "500", "--k", "20", "--metrics", "fid,modes",
                 "--seed", str(seed(0))]) == 0
    m = json.loads((run / "metrics.json").read_text())["metrics"]
    assert {"elbo", "nll[k=20]", "rec_nll", "rec_mse", "fid[lenet-mnist]", "modes"} <= m.keys()
    assert m["nll[k=20]"]["value"] <= -m["elbo"]["value"] + 1.0 and m["nll[k=20]"]["k"] == 20
    assert m["nll[k=20]"]["n"] == 2000 and m["elbo"]["binarised"] is True
    for name in ("reconstructions.png", "latent_manifold.png", "latent_scatter.png", "modes.png"):
        assert (run / name).stat().st_size > 1000, name
    from PIL import Image
    assert Image.open(run / "latent_manifold.png").size[0] > 20 * 28
    assert main(["interpolate", str(run), "--images", "3,10", "--steps", "6", "--out", str(tmp_path / "i.png")]) == 0
    # the endpoints of the path decode the encodings of the two test images: their reconstructions
    from genzoo.explore.latent import encoded_latents, path
    from genzoo.run import Run
    r = Run.open(run)
    cfg, algo = r.cfg, r.algo
    test = dataset_for(cfg, "test")
    pts = encoded_latents(algo, test, [3, 10])
    zs = path(pts, 6, "slerp")
    rec = algo.reconstruct(test.batch(torch.tensor([3, 10]))["x"])
    assert torch.allclose(algo.generate(zs[0, [0, -1]]), rec, atol=1e-5)
    assert main(["interpolate", str(run), "--images", "0,99999"]) == 2
