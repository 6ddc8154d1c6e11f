"""--device on every command that builds a model: a device that is not there is one line before any work,
and --device cpu runs."""
import pytest
import torch

from genzoo.cli import main

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: cuda:7 may exist")

MISSING = [
    ["train", "dcgan", "--dataset", "embedded", "--steps", "1"],
    ["sample", "RUN"], ["evaluate", "RUN"], ["interpolate", "RUN"], ["traverse", "RUN", "--code", "0"],
    ["invert", "RUN", "--test", "2"], ["arithmetic", "RUN", "a + b"], ["latents", "save", "RUN", "a", "--seeds", "1"],
    ["translate", "RUN", "x.png", "--out", "o"],
    ["attack", "lenet-mnist", "--method", "fgsm", "--eps", "0.1", "--n", "10"],
    ["robustness", "lenet-mnist", "--n", "10"],
    ["classifier", "train", "--dataset", "embedded", "--epochs", "1"],
    ["experiment", "zdim", "--dims", "2", "--steps", "1", "--dataset", "embedded", "--n", "50"],
    ["experiment", "wgan-signal", "--steps", "1", "--dataset", "embedded", "--n", "200"],
    ["experiment", "modes", "--mixture", "ring8", "--runs", "1", "--epochs", "0.001"],
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("dev") / "r"
    assert main(["train", "dcgan", "--dataset", "embedded", "--steps", "2", "--quiet", "--out", str(out),
                 "--set", "model.g_width=8", "--set", "model.d_width=8"]) == 0
    return out


@pytest.mark.parametrize("argv", MISSING, ids=lambda a: " ".join(a[:2]))
def test_a_missing_device_is_one_line(argv, run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(run_dir) if a == "RUN" else a for a in argv]
    before = sorted(p.name for p in run_dir.rglob("*"))
    assert main([*argv, "--device", "cuda:7"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not available" in err and "Traceback" not in err, err
    assert sorted(p.name for p in run_dir.rglob("*")) == before  # nothing written or lost


def test_device_cpu_runs_the_attack_and_the_corruptions(capsys, data_root):  # reads MNIST's test split
    assert main(["attack", "lenet-mnist", "--method", "fgsm", "--eps", "0.1", "--n", "20", "--device", "cpu"]) == 0
    assert "clean accuracy" in capsys.readouterr().out
    assert main(["robustness", "lenet-mnist", "--n", "20", "--corruptions", "rotate", "--device", "cpu"]) == 0
