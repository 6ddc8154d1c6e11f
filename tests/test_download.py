"""The download path, against a mirror served on loopback: files land in the cache only when
their decompressed MD5 matches, and a bad mirror falls through to the next one."""
import dataclasses
import functools
import http.server
import shutil
import threading

import pytest
import torch

from genzoo.data import load_dataset
from genzoo.data import mnist as mnist_mod
from genzoo.errors import GenzooError


@pytest.fixture
def mirror(tmp_path, data_root):
    good, bad = tmp_path / "good" / "mnist", tmp_path / "bad" / "mnist"
    good.mkdir(parents=True)
    bad.mkdir(parents=True)
    for f in (data_root / "mnist").iterdir():
        shutil.copy(f, good / f.name)
        (bad / f.name).write_bytes(f.read_bytes()[:-100])  # truncated copies
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _use_mirrors(monkeypatch, tmp_path, *urls):
    src = dataclasses.replace(mnist_mod.SOURCES["mnist"], mirrors=tuple(urls))
    monkeypatch.setitem(mnist_mod.SOURCES, "mnist", src)
    monkeypatch.delenv("GENZOO_OFFLINE")
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_download_falls_back_to_a_good_mirror(mirror, monkeypatch, tmp_path, data_root):
    _use_mirrors(monkeypatch, tmp_path, f"{mirror}/bad/mnist/", f"{mirror}/good/mnist/")
    ds = load_dataset("mnist", "test")
    ref = load_dataset("mnist", "test", root=str(data_root))
    assert torch.equal(ds.x, ref.x)
    assert sorted(p.name for p in (tmp_path / "cache" / "genzoo" / "mnist").iterdir()) == sorted(
        s + ".gz" for s in mnist_mod.SOURCES["mnist"].md5)


def test_download_from_only_bad_mirrors_fails_cleanly(mirror, monkeypatch, tmp_path):
    _use_mirrors(monkeypatch, tmp_path, f"{mirror}/bad/mnist/", f"{mirror}/missing/")
    with pytest.raises(GenzooError, match="download failed.*put train-images"):
        load_dataset("mnist", "test")
    cached = tmp_path / "cache" / "genzoo" / "mnist"
    assert not any(p.suffix == ".gz" for p in cached.iterdir())  # nothing half-downloaded is kept
