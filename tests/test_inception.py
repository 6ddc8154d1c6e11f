"""The optional Inception FID: the network's layout and numerics, safe weight loading, the evaluate flags.

No real Inception weights exist offline, so these tests use random weights in the standard file layout
(conftest's ``random_weights``).
The layout (tests/data/inception_layout.json) was written from torch-fidelity's extractor by
``benchmarks/inception_check.py --write-layout``, which also checks that genzoo's network gives the same
features bit for bit with the same weights.
"""
import json
from pathlib import Path

import pytest
import torch

from genzoo.cli import main
from genzoo.errors import GenzooError
from genzoo.metrics.inception import convert_weights, find_weights, load_inception
from genzoo.nets.inception import FIDInceptionV3, _pool, resize_tf1

LAYOUT = Path(__file__).parent / "data" / "inception_layout.json"


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no cached weights unless a test puts them there
    monkeypatch.delenv("GENZOO_INCEPTION_WEIGHTS", raising=False)


def test_layout_matches_the_standard_weight_files():
    want = json.loads(LAYOUT.read_text())
    have = {k: list(v.shape) for k, v in FIDInceptionV3().state_dict().items()}
    assert have == want
    assert sum(torch.Size(s).numel() for k, s in want.items() if not k.endswith("num_batches_tracked")) > 23_000_000


def test_tf1_resize_by_hand():
    x = torch.tensor([[[[0.0, 10.0], [20.0, 30.0]]]])
    # source coordinate = i * 2 / 4 = 0, 0.5, 1, 1.5; the last pixel clamps: rows/cols [a, (a+b)/2, b, b]
    want = torch.tensor([[0, 5, 10, 10], [10, 15, 20, 20], [20, 25, 30, 30], [20, 25, 30, 30]], dtype=torch.float)
    assert torch.equal(resize_tf1(x, 4)[0, 0], want)
    img = torch.rand(2, 3, 299, 299)
    assert torch.equal(resize_tf1(img), img)  # 299 -> 299 is the identity
    # torch's align_corners=False resize uses half-pixel centres and differs: the TF1 rule is deliberate
    ours = resize_tf1(x, 4)
    theirs = torch.nn.functional.interpolate(x, size=4, mode="bilinear", align_corners=False)
    assert not torch.allclose(ours, theirs)


def test_tf_pools():
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    # the corner average counts only the 4 real pixels (0, 1, 3, 4), not the zero padding
    assert _pool("avg", x)[0, 0, 0, 0].item() == pytest.approx((0 + 1 + 3 + 4) / 4)
    assert _pool("max", x)[0, 0, 0, 0].item() == 4
    net = FIDInceptionV3()
    assert net.Mixed_7c.plan[-1][0] == "max" and net.Mixed_7b.plan[-1][0] == "avg"  # the TF graph's quirk


def test_features_shapes_and_grey_input(random_weights):
    net, _ = load_inception(random_weights[0])
    grey = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    f = net.features(grey)
    assert f.shape == (2, 2048) and torch.isfinite(f).all() and (f >= 0).all()  # after ReLU and mean
    assert torch.equal(f, net.features(grey.expand(-1, 3, -1, -1)))  # grey = the same image in RGB
    assert net(grey).shape == (2, 1008)
    with pytest.raises(ValueError, match="uint8"):
        net.features(grey.float())


def test_loads_standard_file_and_safetensors_copy(random_weights, tmp_path):
    path, state = random_weights
    net, digest = load_inception(path)
    for k, v in state.items():
        assert torch.equal(net.state_dict()[k], v), k
    assert len(digest) == 64
    out = tmp_path / "inception.safetensors"
    assert convert_weights(path, out) == len(state)
    net2, _ = load_inception(out)
    x = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8)
    assert torch.equal(net.features(x), net2.features(x))


def test_bad_weight_files_are_one_line_errors(random_weights, tmp_path):
    path, state = random_weights
    trunc = tmp_path / "trunc.pth"
    trunc.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(GenzooError, match="not a readable Inception weights file"):
        load_inception(trunc)
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in state.items() if "Mixed_7c" not in k}, partial)
    with pytest.raises(GenzooError, match="missing keys"):
        load_inception(partial)
    wrong = tmp_path / "wrong.pth"
    torch.save({**state, "fc.weight": torch.zeros(1000, 2048)}, wrong)
    with pytest.raises(GenzooError, match="wrong shape"):
        load_inception(wrong)
    with pytest.raises(GenzooError, match="no such file"):
        find_weights(tmp_path / "nope.pth")


class _Payload:
    def __reduce__(self):
        import os
        return os.system, (f"touch {_Payload.marker}",)


def test_loading_a_file_never_runs_code(tmp_path):
    _Payload.marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"x": _Payload()}, evil)
    with pytest.raises(GenzooError, match="holds Python objects other than tensors"):
        load_inception(evil)
    assert not _Payload.marker.exists()


def test_old_torch_refuses_pth_files(random_weights, monkeypatch):
    import genzoo.metrics.inception as inc
    monkeypatch.setattr(inc.torch, "__version__", "2.5.1+cpu")
    assert inc._torch_version() == (2, 5)
    with pytest.raises(GenzooError, match="needs torch >= 2.6"):
        load_inception(random_weights[0])


def test_evaluate_without_weights_says_so_in_one_line(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "dcgan", "--steps", "2", "--out", str(run), "--quiet",
                 "--set", "model.g_width=8", "--set", "model.d_width=8"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--n", "300", "--metrics", "kid", "--inception"]) == 0
    out = capsys.readouterr()
    lines = [ln for ln in out.err.splitlines() if "Inception" in ln]
    assert len(lines) == 1 and "--inception-weights" in lines[0]
    assert "kid[lenet-mnist]" in json.loads((run / "metrics.json").read_text())["metrics"]
    assert main(["inception", "where"]) == 1


def test_evaluate_with_weights(tmp_path, random_weights, capsys, monkeypatch):
    run = tmp_path / "r"
    assert main(["train", "dcgan", "--steps", "2", "--out", str(run), "--quiet",
                 "--set", "model.g_width=8", "--set", "model.d_width=8"]) == 0
    assert main(["evaluate", str(run), "--n", "24", "--metrics", "kid,is",
                 "--inception-weights", str(random_weights[0])]) == 0
    m = json.loads((run / "metrics.json").read_text())["metrics"]
    kid = m["kid[inception-v3]"]
    assert kid["n"] == 24 and kid["reference"] == "embedded:test" and kid["n_reference"] == 24
    assert len(kid["weights_sha256"]) == 64 and kid["extractor"] == "inception-v3"
    assert 1.0 <= m["is[inception-v3]"]["value"] <= 1008
    assert "fid[inception-v3]" not in m and "kid[lenet-mnist]" in m
    # the standard file in torch.hub's checkpoints folder is found by --inception
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    hub.mkdir(parents=True)
    (hub / random_weights[0].name).write_bytes(random_weights[0].read_bytes())
    assert main(["inception", "where"]) == 0
    assert str(hub) in capsys.readouterr().out
    # FID on fewer samples than 2048 feature dimensions: the metric's clear error, not a complex number
    assert main(["evaluate", str(run), "--n", "200", "--metrics", "fid", "--inception"]) != 0
    assert "needs more samples than its 2048 feature dimensions" in capsys.readouterr().err
