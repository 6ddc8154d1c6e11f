import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from genzoo.cli import main


def run_cli(*args):
    p = subprocess.run([sys.executable, "-m", "genzoo", *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("args,needle", [
    (["train", "dcgann"], "unknown recipe 'dcgann'; did you mean dcgan? valid recipes: acgan, advgan, ae"),
    (["train", "dcgan", "--dataset", "mnistt"], "unknown dataset 'mnistt'; valid specs: embedded"),
    (["train", "dcgan", "--set", "model.zdim=3"], "unknown config key 'model.zdim'; did you mean model.z_dim?"),
    (["train", "dcgan", "--set", "train.steps=abc"], "'train.steps' expects int"),
    (["train", "dcgan", "--set", "steps"], "--set expects key=value"),
    (["sample", "/nonexistent/run"], "no such run directory"),
])
def test_user_errors_are_one_line_exit_2(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_key_suggests_the_closest_names(capsys):
    main(["train", "dcgan", "--set", "n_critc=2"])
    err = capsys.readouterr().err
    assert "did you mean train.n_critic?" in err and "model.z_dim" not in err
    main(["train", "dcgan", "--set", "bogus=1"])
    err = capsys.readouterr().err
    assert "sections data, model, loss, optim, train, watch" in err and len(err) < 200


def test_list_names_recipes_and_datasets():
    rc, out, _ = run_cli("list")
    assert rc == 0 and "dcgan" in out and "toy:ring8" in out and "folder:PATH" in out


def test_train_then_sample_end_to_end(tmp_path):
    run = tmp_path / "run"
    rc, out, err = run_cli("train", "dcgan", "--steps", "30", "--out", str(run), "--batch-size", "16", "--quiet",
                           "--set", "model.g_width=8", "--set", "model.d_width=8", "--seed", "1")
    assert rc == 0, err
    assert (run / "checkpoints" / "step_000030.json").is_file()
    rc, out, err = run_cli("sample", str(run), "--n", "10", "--out", str(tmp_path / "g.png"))
    assert rc == 0, err
    assert Image.open(tmp_path / "g.png").size[0] > 28 * 3
    rc, out, err = run_cli("sample", str(run), "--n", "12", "--npz", str(tmp_path / "s.npz"), "--seed", "5")
    assert rc == 0, err
    imgs = np.load(tmp_path / "s.npz")["images"]
    assert imgs.shape == (12, 28, 28, 1) and imgs.dtype == np.uint8 and imgs.std() > 0
    # same seed, same samples
    run_cli("sample", str(run), "--n", "12", "--npz", str(tmp_path / "t.npz"), "--seed", "5")
    assert (np.load(tmp_path / "t.npz")["images"] == imgs).all()
    # training again into the same folder is refused, not overwritten
    rc, _, err = run_cli("train", "dcgan", "--steps", "5", "--out", str(run))
    assert rc == 2 and "--resume" in err


def test_toy_run_from_cli(tmp_path):
    rc, _, err = run_cli("train", "dcgan", "--dataset", "toy:ring8", "--steps", "20", "--out", str(tmp_path / "t"),
                         "--quiet", "--set", "model.arch=mlp")
    assert rc == 0, err
    assert (tmp_path / "t" / "samples" / "step_000020.png").is_file()


def test_recipe_toy_profile_applies_only_to_toy_data():
    from genzoo.config_files import load_recipe
    img, toy = load_recipe("wgan-gp", "mnist"), load_recipe("wgan-gp", "toy:grid25")
    assert img.loss.gp_weight == 10.0 and img.train.n_critic == 5 and img.optim.beta1 == 0.0  # Gulrajani et al.
    assert toy.train.batch_size == 256 and toy.model.arch == "mlp" and toy.loss.gp_weight == 0.1
    assert toy.train.n_critic == 5  # the profile changes only what it names


def test_set_accepts_unique_bare_names_and_rejects_ambiguous():
    from genzoo.config_files import load_recipe
    from genzoo.errors import GenzooError
    cfg = load_recipe("dcgan")
    cfg.apply_overrides(["z_dim=7", "optim.ema=0.99", "data.image_size=32"])
    assert cfg.model.z_dim == 7 and cfg.optim.ema == 0.99 and cfg.data.image_size == 32
    with pytest.raises(GenzooError, match="expects float"):
        cfg.apply_overrides(["optim.lr_g=fast"])
