"""The memory-mapped cache of folder datasets (genzoo.data.cache), forced onto a small folder."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo.data.cache as cache
import genzoo.data.folder as folder
from genzoo.data import load_dataset


@pytest.fixture
def pictures(tmp_path, monkeypatch):
    """A labelled folder: 2 classes x 13 random 10x10 RGB PNGs and one file that is not an image."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    root = tmp_path / "pics"
    for k in ("cats", "dogs"):
        (root / k).mkdir(parents=True)
        for i in range(13):
            Image.fromarray(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)).save(root / k / f"{i:02d}.png")
    (root / "dogs" / "broken.png").write_bytes(b"not a png")
    return root


def _load(root, storage, size=8):
    with pytest.warns(UserWarning):  # no train/ test/ split, and the broken file: both said in a warning
        return load_dataset(f"folder:{root}", "train", image_size=size, storage=storage)


def test_mmap_equals_memory_and_is_a_map(pictures):
    mem, mapped = _load(pictures, "memory"), _load(pictures, "mmap")
    assert torch.equal(mem.x, mapped.x) and torch.equal(mem.y, mapped.y) and mem.class_names == mapped.class_names
    assert mapped.x.shape == (26, 3, 8, 8) and mapped.y.tolist() == [0] * 13 + [1] * 13
    files = list(cache.cache_root().glob("*/images.u8"))
    assert len(files) == 1 and files[0].stat().st_size == 26 * 3 * 8 * 8
    x, _, _, _ = folder.load_folder(str(pictures), "train", 8, 3, False, "mmap")
    assert isinstance(x, np.memmap)  # not a copy: the pages come from the file
    assert torch.equal(mapped.batch(torch.tensor([3, 20]))["x"], mem.batch(torch.tensor([3, 20]))["x"])


def test_mmap_hash_is_computed_once_kept_in_the_cache_and_equals_the_in_memory_one(pictures, monkeypatch):
    mem = _load(pictures, "memory")
    assert mem.digest is None  # in memory: hashed only when a checkpoint needs it
    mapped = _load(pictures, "mmap")
    meta = json.loads(next(cache.cache_root().glob("*/meta.json")).read_text())
    assert mapped.digest == meta["sha256"] == mem.files_sha256() is not None
    monkeypatch.setattr(cache, "sha256_of", lambda *a: pytest.fail("hashed again"))
    assert _load(pictures, "mmap").digest == meta["sha256"]  # the next start reads it from meta.json


def test_auto_switches_past_the_threshold_and_key_follows_the_files(pictures, monkeypatch):
    monkeypatch.setenv("GENZOO_MMAP_BYTES", str(26 * 3 * 8 * 8 - 1))  # one byte less than the decoded images
    _load(pictures, "auto")
    assert len(list(cache.cache_root().iterdir())) == 1
    _load(pictures, "auto", size=9)  # another size: another cache
    assert len(list(cache.cache_root().iterdir())) == 2
    img = pictures / "cats" / "00.png"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(img)
    os.utime(img, ns=(1, 1))  # the folder changed: a third cache, holding the new image
    assert _load(pictures, "auto").x[0].sum() == 0 and len(list(cache.cache_root().iterdir())) == 3
    monkeypatch.setenv("GENZOO_MMAP_BYTES", str(10 ** 12))
    _load(pictures, "auto", size=5)
    assert len(list(cache.cache_root().iterdir())) == 3  # under the threshold: decoded in memory, no cache


def test_interrupted_conversion_continues_where_it_stopped(pictures, monkeypatch):
    monkeypatch.setattr(cache, "CHUNK", 5)
    decoded, real_open = [], folder._open

    def flaky(path, size, channels):
        if len(decoded) == 12:
            raise KeyboardInterrupt  # Ctrl-C in the third chunk
        decoded.append(path.name)
        return real_open(path, size, channels)

    monkeypatch.setattr(folder, "_open", flaky)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning):
        load_dataset(f"folder:{pictures}", "train", image_size=8, storage="mmap")
    (key,) = list(cache.cache_root().iterdir())
    state = json.loads((key / "progress.json").read_text())
    assert state["next"] == 10 and not (key / "meta.json").exists()
    monkeypatch.setattr(folder, "_open", real_open)
    seen = []
    monkeypatch.setattr(folder, "_open", lambda p, s, c: seen.append(p.name) or real_open(p, s, c))
    resumed = _load(pictures, "mmap")
    assert len(seen) == 1 + 27 - 10  # the first readable file settles the size, then files 10..26 only
    monkeypatch.setattr(folder, "_open", real_open)
    assert torch.equal(resumed.x, _load(pictures, "memory").x)
    assert not (key / "progress.json").exists()


def test_training_on_a_mapped_folder(pictures):
    from genzoo.cli import main

    out = pictures.parent / "run"
    with pytest.warns(UserWarning):
        assert main(["train", "dcgan", "--dataset", f"folder:{pictures}", "--steps", "2", "--batch-size", "8",
                     "--set", "data.image_size=28", "--set", "data.storage=mmap", "--set", "model.g_width=8",
                     "--set", "model.d_width=8", "--set", "train.report=false", "--quiet", "--out", str(out)]) == 0
    assert (out / "checkpoints" / "step_000002.json").exists()
    assert list(cache.cache_root().glob("*/meta.json"))


def test_gpu_placement_rule_and_cpu_batches_unchanged():
    """On a GPU the training set moves there once when it takes at most half the free memory, else batches are
    copied from page-locked host memory; on the CPU the dataset is used as it is."""
    from genzoo.data import Dataset, place, placement

    assert placement(50, 100) == "device" and placement(51, 100) == "pinned"
    data = Dataset("d", torch.randint(0, 256, (10, 1, 4, 4), dtype=torch.uint8), torch.arange(10))
    same, where = place(data, torch.device("cpu"))
    assert where == "host" and same is data
    b = same.batch(torch.tensor([2, 7]))
    assert b["y"].tolist() == [2, 7] and torch.equal(b["x"], data.x[[2, 7]].float() / 127.5 - 1)


@pytest.mark.parametrize("var, read, unit", [("GENZOO_MMAP_BYTES", cache.mmap_threshold, "bytes"),
                                             ("GENZOO_MAX_PIXELS", folder.max_pixels, "pixels")])
def test_size_limits_from_the_environment(var, read, unit, monkeypatch):
    from genzoo.errors import GenzooError
    monkeypatch.setenv(var, "1234")
    assert read() == 1234
    monkeypatch.setenv(var, "2e9")
    with pytest.raises(GenzooError, match=f"^{var} must be a whole number of {unit}, got '2e9'; unset it"):
        read()
