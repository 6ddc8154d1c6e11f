"""genzoo evaluate end to end: shipped classifiers, the reference cache, stamps, --real."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.metrics.classifier import accuracy, load_classifier, train_classifier
from genzoo.cli import main
from genzoo.data import load_dataset
from genzoo.evaluation import evaluate, evaluate_real
from genzoo.metrics import features as feats_mod


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.mark.parametrize("key,spec,floor", [("mnist", "mnist", 0.990), ("fashion-mnist", "fashion-mnist", 0.91)])
def test_shipped_classifier_accuracy(key, spec, floor, data_root):
    net, meta = load_classifier(key)
    acc = accuracy(net, load_dataset(spec, "test", str(data_root)))
    assert acc >= floor, acc
    assert meta["test_accuracy"] == pytest.approx(acc, abs=1e-4)  # the recorded figure is the real one


def test_classifier_training_learns_a_folder(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 256), ("test", 64)):
        for k, (name, level) in enumerate((("dark", 40), ("bright", 200))):
            d = tmp_path / "ds" / split / name
            d.mkdir(parents=True)
            for i in range(n):
                img = np.clip(rng.normal(level, 30, (28, 28)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(d / f"{i}.png")
    path, acc = train_classifier(f"folder:{tmp_path / 'ds'}", epochs=6, out=tmp_path / "w.safetensors",
                                 progress=False)
    assert acc > 0.95 and path.is_file()


def test_reference_cache_is_keyed_and_recomputed(monkeypatch):
    calls = []
    real_extract = feats_mod.extract
    monkeypatch.setattr(feats_mod, "extract", lambda *a, **k: calls.append(1) or real_extract(*a, **k))
    a, stamp = feats_mod.reference("embedded", "mnist", 500)
    b, _ = feats_mod.reference("embedded", "mnist", 500)
    assert len(calls) == 1 and np.array_equal(a.feats, b.feats)
    assert stamp == {**stamp, "reference": "embedded:test", "n_reference": 500, "extractor": "lenet-mnist"}
    feats_mod.reference("embedded", "mnist", 600)  # other n: other key
    assert len(calls) == 2
    for f in (feats_mod.cache_dir() / "refstats").glob("*.safetensors"):  # corrupt cache: recomputed
        f.write_bytes(b"garbage")
    c, _ = feats_mod.reference("embedded", "mnist", 500)
    assert len(calls) == 3 and np.array_equal(a.feats, c.feats)
    assert not list((feats_mod.cache_dir() / "refstats").glob("*.tmp"))


def test_real_floor_beats_an_untrained_model(tmp_path):
    real = evaluate_real("embedded", n=1000)["metrics"]
    fid_real = real["fid[lenet-mnist]"]["value"]
    assert real["modes"]["classes_covered"] == 10 and real["modes"]["kl_to_uniform"] < 0.02
    assert real["precision"]["value"] > 0.6 and real["coverage"]["value"] > 0.8
    # a DCGAN after 20 steps is far from the data
    assert main(["train", "dcgan", "--steps", "20", "--out", str(tmp_path / "r"), "--quiet",
                 "--set", "model.g_width=8", "--set", "model.d_width=8"]) == 0
    res = evaluate(tmp_path / "r", n=1000)
    assert res["metrics"]["fid[lenet-mnist]"]["value"] > 5 * fid_real
    doc = json.loads((tmp_path / "r" / "metrics.json").read_text())
    for name, entry in doc["metrics"].items():  # every number carries its stamp
        assert {"extractor", "n", "reference", "n_reference", "genzoo_version"} <= entry.keys(), name
        assert entry["n"] == 1000 and entry["reference"] == "embedded:test"
    assert (tmp_path / "r" / "modes.png").is_file()


def test_evaluate_cli_errors(capsys):
    assert main(["evaluate"]) == 2
    assert "RUN_DIR or --real" in capsys.readouterr().err
    assert main(["evaluate", "--real", "embedded", "--metrics", "fid,bogus"]) == 2
    assert "unknown metric(s) bogus" in capsys.readouterr().err
    assert main(["evaluate", "--real", "embedded", "--n", "50", "--metrics", "fid"]) == 2
    assert "more samples than feature dimensions" in capsys.readouterr().err


def test_features_resize_to_classifier_input():
    net, _ = load_classifier("mnist")
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    f = feats_mod.extract(net, x)
    assert f.feats.shape == (4, 128) and np.allclose(f.probs.sum(1), 1)
