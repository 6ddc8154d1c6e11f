"""PacGAN: maxout D, packing for every objective and net family, the pinned 2-D protocol, Stacked MNIST."""
import math
import os
import shutil
from pathlib import Path

import pytest
import torch

import genzoo
from genzoo.cli import main
from genzoo.config_files import load_recipe
from genzoo.errors import GenzooError
from genzoo.losses import GAN_LOSSES
from genzoo.nets.maxout import LinearMaxout, MaxoutDiscriminator
from genzoo.training.build import build_algo

CPU = torch.device("cpu")
HAS_MNIST = (Path(os.environ.get("GENZOO_DATA", "")) / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()


# -- maxout ----------------------------------------------------------------------------------
def test_linear_maxout_against_a_hand_computation():
    layer = LinearMaxout(2, 2, pieces=3)
    with torch.no_grad():  # rows: unit 0 pieces 0..2, unit 1 pieces 0..2
        layer.linear.weight.copy_(torch.tensor([[1., 0.], [0., 1.], [-1., -1.], [2., 0.], [0., -2.], [1., 1.]]))
        layer.linear.bias.copy_(torch.tensor([0., 0., 0.5, 0., 0., -10.]))
    x = torch.tensor([[1., 2.], [-3., 0.5]])
    # unit 0: max(x1, x2, -x1-x2+0.5); unit 1: max(2 x1, -2 x2, x1+x2-10)
    want = torch.tensor([[2., 2.], [3., -1.]])  # (-3, 0.5): max(-3, 0.5, 3) = 3; max(-6, -1, -12.5) = -1
    assert torch.allclose(layer(x), want)
    # the gradient reaches only the winning piece of each unit, so d sum(out) / dx is the sum of the winners'
    # weight rows. x0: unit 0's piece 1 (0, 1) and unit 1's piece 0 (2, 0); x1: piece 2 (-1, -1) and piece 1 (0, -2)
    x.requires_grad_(True)
    layer(x).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([[2., 1.], [-1., -3.]]))


def test_maxout_d_shapes_and_init():
    d = MaxoutDiscriminator((4,), hidden=200, layers=3, pieces=5)
    assert d(torch.randn(7, 4)).shape == (7,)
    w = d.body[0].linear.weight
    assert abs(w.std().item() - 0.02) < 0.003 and d.head.bias.abs().max() == 0


# -- packing ---------------------------------------------------------------------------------
def _algo(dataset, loss="nsgan", pack=2, batch=8, **extra):
    cfg = load_recipe("nsgan", dataset)
    cfg.apply_overrides([f"loss.name={loss}", f"model.pack={pack}", f"train.batch_size={batch}", "model.z_dim=4",
                         "model.g_width=8", "model.d_width=8", "model.mlp_hidden=16"]
                        + [f"{k}={v}" for k, v in extra.items()])
    shape = (2,) if dataset.startswith("toy:") else (1, 28, 28)
    return build_algo(cfg, shape, CPU), shape


def test_d_input_holds_m_independent_samples_of_one_kind():
    algo, _ = _algo("toy:ring8", pack=3, batch=6)
    seen = []
    algo.D.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
    real = torch.arange(12.).view(6, 2)
    algo.d_step({"x": real})
    r, f = seen[0], seen[1]
    assert r.shape == f.shape == (2, 6)                        # 6 samples -> 2 packs of 3 points
    assert torch.equal(r, real.view(2, 6))                     # pack k holds real samples 3k, 3k+1, 3k+2 side by side
    assert not any(torch.isin(f, real).any(1))                 # fake packs hold no real point: all of one kind
    assert len({tuple(p.tolist()) for p in f.view(6, 2)}) == 6  # ... and three different samples each


def test_packed_shapes_mlp_and_conv():
    mlp, _ = _algo("toy:ring8", pack=4, batch=8)
    assert mlp.D.in_shape == (8,)
    conv, shape = _algo("mnist", pack=2, batch=4)
    assert conv.D.in_shape == (2, 28, 28)                      # channels stacked
    assert conv.score(torch.randn(3, *shape)).shape == (3,)    # sampling side: one score per sample
    assert conv.generate(conv.sample_z(5)).shape == (5, 1, 28, 28)  # sampling is unchanged
    maxout, _ = _algo("toy:ring8", pack=3, batch=9, **{"model.d_arch": "maxout"})
    assert isinstance(maxout.D, MaxoutDiscriminator) and maxout.D.in_shape == (6,)


@pytest.mark.parametrize("loss", sorted(GAN_LOSSES))
@pytest.mark.parametrize("dataset", ["toy:ring8", "mnist"])
def test_every_objective_steps_with_pack_2(loss, dataset):
    extra = {"model.d_norm": "layer"} if loss == "wgan-gp" else {}
    algo, shape = _algo(dataset, loss, pack=2, batch=4, **extra)
    b = {"x": torch.rand(4, *shape) * 2 - 1}
    out = {**algo.d_step(b), **algo.g_step(b)}
    assert math.isfinite(out["loss_d"]) and math.isfinite(out["loss_g"])


@pytest.mark.parametrize("sets,needle", [
    (["model.pack=0"], "model.pack"),
    (["model.pack=3", "train.batch_size=64"], "not a multiple of model.pack=3"),
])
def test_bad_pack_is_one_line_exit_2(sets, needle, tmp_path, capsys):
    args = ["train", "nsgan", "--dataset", "toy:ring8", "--steps", "1", "--out", str(tmp_path / "r")]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genzoo: error:") and needle in err and "\n" not in err


# -- the PacGAN 2-D protocol -----------------------------------------------------------------
def test_pacgan_protocol_is_pinned():
    """Lin et al. 2018 and fjxmlzn/PacGAN synthetic_data_experiments; a recipe change must not move these."""
    from genzoo.studies.modes import PROTOCOLS, protocol_config
    for name, pack in [("gan", 1), ("pacgan2", 2), ("pacgan3", 3), ("pacgan4", 4)]:
        for mixture in ("ring8", "grid25"):
            c = protocol_config(name, mixture, seed=5)
            m, o, t = c.model, c.optim, c.train
            assert c.data.dataset == f"toy:{mixture}" and c.data.toy_samples == 100_000
            assert (m.arch, m.z_dim, m.z_dist, m.z_scale) == ("mlp", 2, "normal", 1.0)
            assert (m.mlp_hidden, m.mlp_layers, m.g_batchnorm, m.g_bn_momentum) == (400, 4, True, 0.05)
            assert (m.d_arch, m.maxout_hidden, m.maxout_layers, m.maxout_pieces) == ("maxout", 200, 3, 5)
            assert m.pack == pack and t.batch_size == 100 * pack and m.cond == "none" and m.d_dropout == 0
            assert (c.loss.name, o.name, o.lr_g, o.lr_d, o.beta1) == ("nsgan", "adam", 1e-4, 1e-4, 0.8)
            assert (t.steps, t.n_critic, t.seed) == (400_000, 1, 5) and not c.watch.enabled
            assert c.loss.label_smoothing == c.loss.instance_noise == o.ema == o.lr_half_life == o.lr_drop_at == 0
            assert c.loss.top_k == 1
    assert PROTOCOLS["pacgan"]["eval_samples"] == 2500
    algo = build_algo(protocol_config("pacgan2", "grid25", 0), (2,), CPU)
    g = [x for x in algo.G.net if isinstance(x, torch.nn.Linear)]
    assert [l.bias is None for l in g] == [True] * 4 + [False]  # no bias in G's hidden layers, linear output
    assert not isinstance(algo.G.net[-1], torch.nn.Tanh)
    assert [b.momentum for b in algo.G.net if isinstance(b, torch.nn.BatchNorm1d)] == [0.05] * 4  # p <- 0.95 p + 0.05 batch
    assert protocol_config("gan", "ring8", 0, epochs=2).train.steps == 2000


def test_modes_experiment_bad_row_is_one_line():
    from genzoo.studies.modes import pack_of
    with pytest.raises(GenzooError, match="pacgan2"):
        pack_of("wgan")


def test_protocol_variation_sets_other_keys_but_not_the_protocol():
    from genzoo.studies.modes import protocol_config
    c = protocol_config("pacgan3", "ring8", 2, epochs=1, overrides=["optim.ema=0.999", "loss.name=hinge"])
    assert (c.optim.ema, c.loss.name) == (0.999, "hinge")
    assert (c.model.pack, c.train.batch_size, c.train.steps, c.train.seed) == (3, 300, 1000, 2)  # still the protocol
    for item in ["model.pack=2", "train.batch_size=64", "train.steps=10", "data.toy_samples=5", "train.seed=1"]:
        with pytest.raises(GenzooError, match="protocol itself"):
            protocol_config("gan", "ring8", 0, overrides=[item])


def test_modes_experiment_refuses_to_reuse_a_run_trained_otherwise(tmp_path, capsys):
    """A run folder trained without EMA is not continued (or re-evaluated) as an EMA run: one line, exit 2,
    before any training; the same settings with another step budget are accepted."""
    from genzoo.studies.modes import check_reuse, protocol_config
    run = tmp_path / "ring8-gan-seed0"
    run.mkdir()
    (run / "config.yaml").write_text(protocol_config("gan", "ring8", 0, epochs=3).to_yaml())
    check_reuse(protocol_config("gan", "ring8", 0, epochs=25), run)  # a longer budget continues the run
    with pytest.raises(GenzooError, match=r"optim\.ema=0\.0, this experiment asks for 0\.999"):
        check_reuse(protocol_config("gan", "ring8", 0, epochs=3, overrides=["optim.ema=0.999"]), run)
    args = ["experiment", "modes", "--mixture", "ring8", "--recipes", "gan", "--runs", "1", "--epochs", "3",
            "--out", str(tmp_path), "--set", "optim.ema=0.999"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genzoo: error:") and "use another --out" in err and "\n" not in err
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]  # nothing trained, nothing overwritten


def test_a_key_missing_from_an_older_run_counts_at_its_default(tmp_path):
    """A run folder written before optim.lr_drop_at existed trained without a drop: it is reused for the default,
    and refused for an experiment that asks for a drop."""
    import yaml
    from genzoo.studies.modes import check_reuse, protocol_config
    old = yaml.safe_load(protocol_config("gan", "ring8", 0, epochs=3).to_yaml())
    del old["optim"]["lr_drop_at"], old["optim"]["lr_drop"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    check_reuse(protocol_config("gan", "ring8", 0, epochs=25), tmp_path)
    with pytest.raises(GenzooError, match=r"optim\.lr_drop_at=0, this experiment asks for 50000"):
        check_reuse(protocol_config("gan", "ring8", 0, epochs=25, overrides=["optim.lr_drop_at=50000"]), tmp_path)


def test_stacked_runs_are_continued_only_with_their_own_settings(tmp_path):
    """A Stacked MNIST run's config.yaml holds what the run resolved (data.image_size=28, channels 3): a protocol
    that leaves those to the run still matches it; the other protocol does not."""
    from genzoo.studies.modes import check_reuse
    from genzoo.studies.stacked import stacked_config
    resolved = stacked_config(1, 0, 100, "paper", ["optim.ema=0.999"])
    resolved.apply_overrides(["data.image_size=28", "data.channels=3"])
    (tmp_path / "config.yaml").write_text(resolved.to_yaml())
    check_reuse(stacked_config(1, 0, 5000, "paper", ["optim.ema=0.999"]), tmp_path)
    moved = stacked_config(1, 0, 5000, "paper", ["optim.ema=0.999", "data.root=/elsewhere"])
    check_reuse(moved, tmp_path)  # the data folder is where the files are, not a setting of the run
    with pytest.raises(GenzooError, match=r"optim\.ema=0\.999, this experiment asks for 0\.0"):
        check_reuse(stacked_config(1, 0, 5000, "paper", ["data.root=/elsewhere"]), tmp_path)
    with pytest.raises(GenzooError, match=r"model\.(dcgan_layers=0|z_dist=normal), this experiment asks for"):
        check_reuse(stacked_config(1, 0, 5000, "code", ["optim.ema=0.999"]), tmp_path)


def test_modes_experiment_in_process_gives_back_the_thread_count(tmp_path):
    from genzoo.studies.modes import modes_experiment
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        r = modes_experiment("ring8", ["gan"], 1, tmp_path, epochs=0.001, threads=1, device="cpu")
        assert r["steps"] == 1 and torch.get_num_threads() == 2  # the run trained on 1 thread, the caller keeps 2
    finally:
        torch.set_num_threads(before)


def test_protocol_runs_keep_their_cpu_time_over_continuations(tmp_path):
    from genzoo.studies.modes import _add_cpu_seconds
    assert _add_cpu_seconds(tmp_path, 1.5) == 1.5
    assert _add_cpu_seconds(tmp_path, 2.25) == 3.75  # a longer budget adds its continuation's time


# -- Stacked MNIST ---------------------------------------------------------------------------
def test_stacked_kl_and_modes_against_a_hand_histogram():
    from genzoo.evaluation.stacked import stacked_modes
    ids = torch.tensor([7] * 6 + [123] * 3 + [999])  # p = (0.6, 0.3, 0.1) on 3 of 1,000 modes
    m = stacked_modes(ids)
    want = 0.6 * math.log(600) + 0.3 * math.log(300) + 0.1 * math.log(100)
    assert m["modes"] == 3 and abs(m["kl_to_uniform"] - want) < 1e-12
    assert abs(stacked_modes(torch.arange(1000))["kl_to_uniform"]) < 1e-12
    # every channel holds digits (0, 1, 9), (0, 2, 9) or (7, 3, 9) with p = (0.6, 0.3, 0.1): each channel's KL to
    # uniform over 10 is 0.6 ln 6 + 0.3 ln 3; the channels are copies of one choice, so they share 2 H(p) nats
    h = -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1))
    assert all(abs(k - (0.6 * math.log(6) + 0.3 * math.log(3))) < 1e-12 for k in m["kl_channels"])
    assert abs(m["total_correlation"] - 2 * h) < 1e-12
    from genzoo.evaluation.registry import format_table  # what `genzoo evaluate` prints of them
    table = format_table({"recipe": "dcgan", "dataset": "stacked-mnist", "step": 5, "metrics": m})
    assert f"kl_channels            {m['kl_channels'][0]:.4f} {m['kl_channels'][1]:.4f}" in table


def test_stacked_kl_of_independent_channels_is_their_sum():
    from genzoo.evaluation.stacked import stacked_modes
    m = stacked_modes(torch.tensor([134, 135, 234, 235]))  # {1, 2} x {3} x {4, 5}, each once: a product
    want = [math.log(10) - math.log(2), math.log(10), math.log(10) - math.log(2)]
    assert all(abs(k - w) < 1e-12 for k, w in zip(m["kl_channels"], want))
    assert abs(m["total_correlation"]) < 1e-12 and abs(m["kl_to_uniform"] - sum(want)) < 1e-12


def test_stacked_mnist_protocols_are_pinned():
    """PacGAN Table 2 (Lin et al. 2018, Sec. 5.2) and fjxmlzn/PacGAN stacked_MNIST_experiments/VEEGAN_experiment."""
    from genzoo.studies.stacked import EPOCHS, EVAL_SAMPLES, PACKS_PER_BATCH, STEPS_PER_EPOCH, stacked_config
    assert (PACKS_PER_BATCH, STEPS_PER_EPOCH, EPOCHS, EVAL_SAMPLES) == (64, 2000, 50, 26_000)
    assert PACKS_PER_BATCH * STEPS_PER_EPOCH == 128_000  # an epoch is the 128,000 stacked images
    for pack in (1, 2, 4):
        p, c = stacked_config(pack, 3, 100, "paper"), stacked_config(pack, 3, 100, "code")
        m, o, t = p.model, p.optim, p.train
        assert (p.family, p.data.dataset, p.loss.name) == ("gan", "stacked-mnist", "nsgan")
        assert (m.pack, t.batch_size, t.seed, t.steps, t.n_critic, t.g_steps) == (pack, 64 * pack, 3, 100, 1, 1)
        assert (m.arch, m.z_dim, m.z_dist, m.g_width, m.d_width, m.dcgan_layers, m.dcgan_kernel, m.d_norm) == \
            ("auto", 100, "normal", 64, 64, 0, 4, "batch")
        assert (o.name, o.lr_g, o.lr_d, o.beta1, o.beta2, o.ema) == ("adam", 2e-4, 2e-4, 0.5, 0.999, 0.0)
        # the authors' code: carpedm20's nets, G updated twice per D update, z ~ U(-1, 1); nothing else differs
        diff = {f"{s}.{k}": v for s, sec in c.to_dict().items() if isinstance(sec, dict)
                for k, v in sec.items() if p.to_dict()[s][k] != v}
        assert diff == {"model.dcgan_layers": 4, "model.dcgan_kernel": 5, "train.g_steps": 2, "model.z_dist": "uniform"}
    assert stacked_config(1, 0, 10, overrides=["optim.ema=0.999"]).optim.ema == 0.999
    for item in ("train.batch_size=64", "seed=5", "steps=7", "pack=4"):  # bare names are the same keys
        with pytest.raises(GenzooError, match="would change the protocol itself"):
            stacked_config(2, 0, 10, overrides=[item])


def test_stack_digits_is_deterministic_and_labelled():
    from genzoo.data.stacked import stack_digits, triples
    imgs = torch.arange(10, dtype=torch.uint8).view(10, 1, 1).expand(10, 28, 28)  # digit k is filled with k
    labs = torch.arange(10)
    x1, y1 = stack_digits(imgs, labs, 50, seed=3)
    x2, y2 = stack_digits(imgs, labs, 50, seed=3)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and x1.shape == (50, 3, 28, 28)
    assert torch.equal(x1[:, :, 0, 0].long(), triples(y1))      # channel c holds the digit of label digit c
    assert not torch.equal(stack_digits(imgs, labs, 50, seed=4)[1], y1)


@pytest.mark.skipif(not HAS_MNIST, reason="needs the MNIST files in $GENZOO_DATA/mnist")
def test_real_stacked_images_are_labelled_by_lenet():
    from genzoo.data import load_dataset
    from genzoo.data.stacked import triples
    from genzoo.evaluation.stacked import CONFIDENT, channel_digits, channel_probs
    a, b = load_dataset("stacked-mnist", "test"), load_dataset("stacked-mnist", "test")
    assert a.x.shape == (10_000, 3, 28, 28) and torch.equal(a.x, b.x) and a.num_classes == 1000
    got = channel_digits(a.x[:500])
    assert (got == triples(a.y[:500])).all(1).float().mean() >= 0.98
    probs = channel_probs(a.x[:500])  # real digits are read confidently; the same digits faded to a tenth are not
    assert torch.equal(probs.argmax(2), got) and (probs.max(2).values < CONFIDENT).float().mean() < 0.1
    faint = channel_probs((a.x[:500] // 10).to(torch.uint8))
    assert (faint.max(2).values < CONFIDENT).float().mean() > (probs.max(2).values < CONFIDENT).float().mean()


def test_stacked_mnist_without_mnist_files_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    args = ["train", "dcgan", "--dataset", "stacked-mnist", "--data-root", str(tmp_path), "--steps", "1",
            "--out", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genzoo: error: stacked-mnist is built from MNIST") and "\n" not in err


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run_benchmark(script, args, tmp_path, monkeypatch):
    """``python benchmarks/SCRIPT ARGS`` in-process, with no MNIST where genzoo looks unless ARGS name it."""
    import runpy
    import sys
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "empty"))  # restored after the test
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    out = ["--out", str(tmp_path / "runs")] if script != "pacgan_batched_seeds.py" else []  # it writes nothing
    monkeypatch.setattr(sys, "argv", [script, *args, *out])
    threads = torch.get_num_threads()
    try:
        runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
    finally:  # --threads must not change the numerics of the tests that run after this one
        torch.set_num_threads(threads)


@pytest.mark.parametrize("script, args, needle", [
    ("stacked_mnist.py", ["--packs", "1", "--steps", "1"], "stacked-mnist is built from MNIST"),
    ("stacked_mnist.py", ["--packs", "0", "--steps", "1"], "model.pack must be in [1, 1024], got 0"),
    ("stacked_mnist.py", ["--packs", "1,a"], "--packs expects comma-separated integers, got '1,a'"),
    ("stacked_mnist.py", ["--threads", "0"], "--threads must be at least 1"),
    ("stacked_mnist.py", ["--bogus"], "unrecognized arguments: --bogus"),
    ("pacgan_protocol.py", ["--recipes", "gna", "--epochs", "1"], "unknown row 'gna'"),
    ("pacgan_protocol.py", ["--epochs", "1,x"], "--epochs expects comma-separated numbers, got '1,x'"),
    ("pacgan_protocol.py", ["--threads", "0", "--epochs", "1"], "--threads must be at least 1"),
    ("pacgan_batched_seeds.py", ["--seeds", "1,x"], "--seeds expects comma-separated integers, got '1,x'"),
    ("pacgan_batched_seeds.py", ["--pack", "0"], "--pack must be at least 1, got 0"),
    pytest.param("ab_quality.py", ["--base", "no-such-revision"], "--base no-such-revision: git could not check it out",
                 marks=pytest.mark.skipif(shutil.which("git") is None, reason="needs git")),
    ("ab_quality.py", ["--base", "HEAD", "--recipe", "gna"], "unknown recipe 'gna'"),
    ("ab_quality.py", ["--base", "HEAD", "--steps", "0"], "--steps must be at least 1, got 0"),
])
def test_protocol_benchmarks_bad_input_is_one_line_exit_2(script, args, needle, tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as e:
        _run_benchmark(script, args, tmp_path, monkeypatch)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err.startswith("genzoo: error: ") and needle in err and "\n" not in err
    assert not (tmp_path / "runs").exists()  # refused before any run folder was made


@pytest.mark.skipif(not HAS_MNIST, reason="needs MNIST in $GENZOO_DATA")
def test_stacked_benchmark_reads_mnist_from_data_root(tmp_path, capsys, monkeypatch):
    data = os.environ["GENZOO_DATA"]  # elsewhere, $GENZOO_DATA and the cache hold no MNIST
    _run_benchmark("stacked_mnist.py", ["--packs", "1", "--steps", "1,2", "--n", "100", "--threads", "1",
                                        "--data-root", data], tmp_path, monkeypatch)
    out = capsys.readouterr().out  # step 1 a new run, step 2 its continuation, both reading MNIST there
    assert "| DCGAN | 1 | 0.0 |" in out and "| DCGAN | 2 | 0.0 |" in out
    assert genzoo.Run.open(tmp_path / "runs" / "DCGAN-s0").step == 2
