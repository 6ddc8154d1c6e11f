"""Issue 21: a fuzz suite of bad inputs and faults. Every case goes through the CLI (``genzoo.cli.main``,
in-process) and must end in exit code 2, exactly one stderr line starting ``genzoo: error:``, no traceback,
and no earlier file changed or lost (every file under the test's folder is hashed before and after).

Classes: config and CLI values, recipes, data files, checkpoints, file-system faults, evaluation tools; plus
kill -9 during checkpoint writes followed by an exact resume, and the real entry point in a subprocess.
"""
from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from genzoo.cli import main
from genzoo.training import checkpoint

TINY = ["--dataset", "embedded", "--quiet", "--set", "model.g_width=8", "--set", "model.d_width=8",
        "--set", "train.report=false", "--set", "train.sample_every=100", "--set", "watch.enabled=false"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("GENZOO_OFFLINE", "1")
    monkeypatch.setenv("GENZOO_DATA", os.environ.get("GENZOO_DATA", "/work/shared/data"))


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def expect_user_error(argv: list[str], capsys, root: Path) -> str:
    """Run the CLI; assert exit 2, one `genzoo: error:` line, no traceback, no file under root changed."""
    before = snapshot(root)
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own errors exit from parse_args
        rc = e.code
    out, err = capsys.readouterr()
    lines = err.rstrip("\n").split("\n")
    assert rc == 2, (rc, err, out)
    assert len(lines) == 1 and lines[0].startswith("genzoo: error: "), err
    assert "Traceback" not in err
    assert snapshot(root) == before, "a file was changed, added or lost"
    return lines[0]


def _train(out: Path, *extra: str) -> None:
    assert main(["train", "dcgan", "--out", str(out), *TINY, *extra]) == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny run with checkpoints at steps 2 and 4, and a run of another z_dim."""
    base = tmp_path_factory.mktemp("runs")
    _train(base / "run", "--steps", "4", "--set", "train.ckpt_every=2")
    _train(base / "other", "--steps", "2", "--set", "model.z_dim=7")
    return base


@pytest.fixture
def run(runs, tmp_path, monkeypatch):
    """A fresh copy of the tiny run in this test's folder (the working directory)."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(runs / "run", tmp_path / "run")
    return tmp_path / "run"


# -- 1. config and CLI values ---------------------------------------------------------------------------------
BAD_SETS = [
    "optim.lr_g=.nan", "optim.lr_g=-1", "optim.lr_d=.inf", "optim.lr=0", "optim.beta1=1.0", "optim.beta2=-0.1",
    "train.batch_size=0", "train.batch_size=-5", "train.ckpt_every=0", "train.log_every=0", "train.n_critic=0",
    "model.z_dim=0", "model.z_dim=1000000000", "data.image_size=-1", "train.device=tpu", "train.device=cuda:x",
    "train.sample_every=-1", "train.n_grid=0", "train.seed=-1", "train.seed=18446744073709551616",
    "train.steps=abc", "train.steps=2.5", "loss.name=foo", "data.channels=2", "train.keep_ckpts=-1",
    "model.d_dropout=1.0", "watch.lr_factor=0", "loss.label_flip=2", "nosuchkey=1", "train.precision=fp64",
    "model.arch=resnet", "train.report=maybe", "data.dataset=[1, 2]", "model={a: 1}", "lr_g",
    "train.g_steps=0", "model.dcgan_kernel=1", "model.dcgan_layers=5",
]


@pytest.mark.parametrize("item", BAD_SETS)
def test_bad_config_value(item, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = expect_user_error(["train", "dcgan", "--steps", "2", *TINY, "--set", item], capsys, tmp_path)
    assert "--set" in line or "valid" in line or "must be" in line  # says what to do


BAD_CLI = [
    ["train", "dcgan", "--steps", "0"], ["train", "dcgan", "--batch-size", "0"], ["train", "dcgan", "--seed", "-1"],
    ["train", "dcgan", "--seed", str(2 ** 63)], ["train", "dcgan", "--steps", "abc"], ["train", "dcgan", "--bogus"],
    ["train"], ["train", "dcgan", "--precision", "fp64"], ["train", "dcgan", "--device", "tpu"],
    ["train", "dcgan", "--device", "cuda:99"], ["train", "dcgan", "--dataset", "nope"],
    ["train", "dcgan", "--dataset", "folder:/nonexistent/x"], ["train", "dcgan", "--dataset", "toy:nope"],
    ["train", "dcgan", "--resume", "run", "--set", "model.z_dim=3"], ["nosuchcommand"],
    ["sample", "run", "--seed", "-5"], ["interpolate", "run", "--seeds", f"0,{2 ** 64}"],
]


@pytest.mark.parametrize("argv", BAD_CLI, ids=lambda a: " ".join(a)[:40])
def test_bad_cli_value(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    expect_user_error([*argv, "--quiet"] if argv[:1] == ["train"] and len(argv) > 1 else argv, capsys, tmp_path)


# -- 2. recipes ------------------------------------------------------------------------------------------------
RECIPE_FILES = {
    "missing.yaml": None, "bad.yaml": "model: [unclosed", "list.yaml": "- 1\n- 2\n", "notyaml.txt": "family: gan\n",
    "badvalue.yaml": "train:\n  batch_size: 0\n", "badname.yaml": "recipe: ../../evil\n",
    "badtoy.yaml": "toy: 3\n", "deep.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\n", "binary.yaml": b"\xff\xfe\x00",
    "unknownkey.yaml": "model:\n  zdim: 3\n",
}


@pytest.mark.parametrize("name", sorted(RECIPE_FILES))
def test_bad_recipe_file(name, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    body = RECIPE_FILES[name]
    if body is not None:
        (tmp_path / name).write_bytes(body if isinstance(body, bytes) else body.encode())
    expect_user_error(["train", "--recipe-file", name, "--steps", "2", "--quiet"], capsys, tmp_path)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/hosts", "dcgan.yaml", "recipes/dcgan", "", "dcgann"])
def test_recipe_names_are_registry_names_only(name, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = expect_user_error(["train", name, "--steps", "2", "--quiet"], capsys, tmp_path)
    assert "--recipe-file PATH" in line


def test_recipe_file_with_a_name_too(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("family: gan\n")
    expect_user_error(["train", "dcgan", "--recipe-file", "mine.yaml", "--quiet"], capsys, tmp_path)


# -- 3. data files ---------------------------------------------------------------------------------------------
def _png_header(w: int, h: int) -> bytes:
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))  # noqa: E731
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))


def _folder(root: Path, kind: str) -> None:
    root.mkdir()
    good = lambda i, size=(16, 16): Image.fromarray(np.full(size, i * 40, np.uint8)).save(root / f"g{i}.png")  # noqa
    if kind == "empty":
        return
    if kind == "only-bad":
        (root / "a.png").write_bytes(b"not a png")
        (root / "b.jpg").write_bytes(b"\xff\xd8\xff")
    elif kind == "bomb-strict":
        good(0), good(1)
        (root / "bomb.png").write_bytes(_png_header(30000, 30000))
    elif kind == "huge-strict":
        good(0), good(1)
        (root / "huge.png").write_bytes(_png_header(8000, 7000))
    elif kind == "truncated-strict":
        good(0)
        (root / "cut.png").write_bytes((root / "g0.png").read_bytes()[:30])
    elif kind == "not-square":
        good(0, (16, 24))
    elif kind == "only-bombs":
        (root / "bomb.png").write_bytes(_png_header(30000, 30000))


@pytest.mark.parametrize("kind", ["empty", "only-bad", "bomb-strict", "huge-strict", "truncated-strict",
                                  "not-square", "only-bombs"])
def test_bad_image_folder(kind, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _folder(tmp_path / "imgs", kind)
    expect_user_error(["train", "dcgan", "--dataset", f"folder:{tmp_path / 'imgs'}", "--strict", "--steps", "2",
                       "--quiet", "--set", "model.g_width=8", "--set", "model.d_width=8"], capsys, tmp_path)


def _idx(shape, fill=0) -> bytes:
    arr = np.full(shape, fill, np.uint8)
    return bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in shape) + arr.tobytes()


IDX_FAULTS = {
    "checksum": lambda: gzip.compress(_idx((10, 28, 28))),
    "corrupt-gzip": lambda: b"\x1f\x8b" + os.urandom(64),
    "truncated-gzip": lambda: gzip.compress(_idx((10, 28, 28)))[:40],
    "empty": lambda: b"",
    "gzip-of-overflow-header": lambda: gzip.compress(bytes([0, 0, 8, 4]) + b"\xff\xff\xff\xff" * 4),
}


@pytest.mark.parametrize("fault", sorted(IDX_FAULTS))
def test_bad_idx_files(fault, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (data / f"{stem}.gz").write_bytes(gzip.compress(_idx((10,) if "labels" in stem else (10, 28, 28))))
    (data / "train-images-idx3-ubyte.gz").write_bytes(IDX_FAULTS[fault]())
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    expect_user_error(["train", "dcgan", "--dataset", "mnist", "--steps", "2", "--quiet"], capsys, tmp_path)


@pytest.mark.parametrize("fault", ["garbage", "truncated", "empty-tar"])
def test_bad_cifar_archive(fault, capsys, tmp_path, monkeypatch):
    import io
    import tarfile
    monkeypatch.chdir(tmp_path)
    d = tmp_path / "data" / "cifar10"
    d.mkdir(parents=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        if fault != "empty-tar":
            for i in range(20):
                img = io.BytesIO()
                Image.fromarray(np.full((32, 32, 3), i, np.uint8)).save(img, "JPEG")
                info = tarfile.TarInfo(f"train/cat/{i}.jpg")
                info.size = len(img.getvalue())
                tar.addfile(info, io.BytesIO(img.getvalue()))
    body = {"garbage": os.urandom(300), "truncated": buf.getvalue()[:200], "empty-tar": buf.getvalue()}[fault]
    (d / "cifar10-jpeg-train.tar.gz").write_bytes(body)
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    expect_user_error(["train", "dcgan", "--dataset", "cifar10", "--steps", "2", "--quiet"], capsys, tmp_path)


# -- 4. checkpoints --------------------------------------------------------------------------------------------
def _latest(run: Path) -> Path:
    return run / "checkpoints" / "step_000004.json"


def _restamp(path: Path, doc: dict) -> None:
    doc.pop("meta_sha256", None)
    doc["meta_sha256"] = checkpoint._digest(doc)
    path.write_text(json.dumps(doc))


def _edit(fn, restamp=True):
    def apply(run: Path) -> None:
        p = _latest(run)
        doc = json.loads(p.read_text())
        fn(doc)
        if restamp:
            _restamp(p, doc)
        else:
            p.write_text(json.dumps(doc))
    return apply


def _raw(text: str | bytes):
    return lambda run: _latest(run).write_bytes(text if isinstance(text, bytes) else text.encode())


def _tensor_shape(run: Path) -> None:
    p = _latest(run)
    st = p.with_suffix(".safetensors")
    t = load_file(str(st))
    key = next(k for k in t if k.startswith("algo.nets.G.") and t[k].dim() > 1)
    t[key] = torch.zeros(*[s + 1 for s in t[key].shape])
    save_file(t, str(st))
    doc = json.loads(p.read_text())
    doc["sha256"] = checkpoint.sha256(st)
    _restamp(p, doc)


def _tensor_bytes(mode: str):
    def apply(run: Path) -> None:
        st = _latest(run).with_suffix(".safetensors")
        b = bytearray(st.read_bytes())
        if mode == "flip":
            b[len(b) // 2] ^= 0x01
        elif mode == "truncate":
            b = b[: len(b) // 3]
        elif mode == "pickle":
            b = bytearray(b"\x80\x04\x95" + os.urandom(64))
        if mode == "missing":
            st.unlink()
        else:
            st.write_bytes(bytes(b))
    return apply


def _other_run(runs: Path):
    def apply(run: Path) -> None:
        shutil.rmtree(run / "checkpoints")
        shutil.copytree(runs / "other" / "checkpoints", run / "checkpoints")
        # the other run's step_000002 is now this run's latest; give it a later step so it is picked
    return apply


CKPT_FAULTS = {
    "json-truncated": lambda run: _latest(run).write_text(_latest(run).read_text()[:100]),
    "json-empty": _raw(""),
    "json-not-json": _raw("hello"),
    "json-list": _raw("[1, 2, 3]"),
    "json-binary": _raw(b"\xff\xfe\x00\x01"),
    "json-recursion-bomb": _raw("[" * 200000 + "]" * 200000),
    "missing-step": _edit(lambda d: d.pop("step")),
    "missing-layout": _edit(lambda d: d.pop("layout")),
    "missing-tensors": _edit(lambda d: d.pop("tensors")),
    "missing-sha256": _edit(lambda d: d.pop("sha256")),
    "missing-meta-hash": _edit(lambda d: d.pop("meta_sha256"), restamp=False),
    "missing-data-shape": _edit(lambda d: d.pop("data_shape")),
    "missing-config": _edit(lambda d: d.pop("config")),
    "edited-unstamped-data-shape": _edit(lambda d: d.update(data_shape=[1, 32, 32]), restamp=False),
    "edited-unstamped-step": _edit(lambda d: d.update(step=3), restamp=False),
    "step-mismatch": _edit(lambda d: d.update(step=40)),
    "step-string": _edit(lambda d: d.update(step="4")),
    "data-shape-wrong": _edit(lambda d: d.update(data_shape=[3, 28, 28])),
    "data-shape-absurd": _edit(lambda d: d.update(data_shape=[1, 10 ** 9, 28])),
    "data-digest-not-hex": _edit(lambda d: d.update(data_sha256="abc")),
    "data-digest-other-images": _edit(lambda d: d.update(data_sha256="0" * 64)),
    "config-other-zdim": _edit(lambda d: d["config"]["model"].update(z_dim=7)),
    "config-invalid": _edit(lambda d: d["config"]["train"].update(batch_size=-1)),
    "layout-missing-tensor": _edit(lambda d: d["layout"]["algo"]["nets"]["G"].update(
        {next(iter(d["layout"]["algo"]["nets"]["G"])): {"__tensor__": "nope"}})),
    "layout-deep": _edit(lambda d: d["layout"].update(deep=json.loads("[" * 500 + "]" * 500))),
    "layout-no-algo": _edit(lambda d: d["layout"].pop("algo")),
    "layout-no-rng": _edit(lambda d: d["layout"].pop("rng")),
    "tensors-path-traversal": _edit(lambda d: d.update(tensors="../../config.yaml")),
    "tensor-wrong-shape-restamped": _tensor_shape,
    "tensor-bitflip": _tensor_bytes("flip"),
    "tensor-truncated": _tensor_bytes("truncate"),
    "tensor-pickle": _tensor_bytes("pickle"),
    "tensor-missing": _tensor_bytes("missing"),
}


@pytest.mark.parametrize("fault", sorted(CKPT_FAULTS))
def test_damaged_checkpoint_on_resume(fault, run, capsys, tmp_path):
    CKPT_FAULTS[fault](run)
    line = expect_user_error(["train", "--resume", run, "--steps", "6", "--quiet"], capsys, tmp_path)
    assert "checkpoint" in line and ("move" in line or "--out" in line)


@pytest.mark.parametrize("fault, match", [("data-digest-not-hex", "'data_sha256' is not a SHA-256 hex digest"),
                                          ("data-digest-other-images", "not the data the run trained on "
                                           r"\(other images .*; resume with the genzoo version that wrote")])
def test_data_digest_faults_say_what_is_wrong(fault, match, run, capsys, tmp_path):
    CKPT_FAULTS[fault](run)  # the tiny run trains on the embedded set, which no --data-root can change
    assert re.search(match, expect_user_error(["train", "--resume", run, "--steps", "6", "--quiet"], capsys,
                                              tmp_path))


def test_checkpoint_from_before_the_data_digest_resumes(run, capsys):
    """Checkpoints written before genzoo recorded data_sha256 resume unchecked."""
    assert "data_sha256" in json.loads(_latest(run).read_text())  # the embedded set is images: it is hashed
    _edit(lambda d: d.pop("data_sha256"))(run)
    assert main(["train", "--resume", str(run), "--steps", "6", "--quiet"]) == 0
    assert "data_sha256" in json.loads((run / "checkpoints" / "step_000006.json").read_text())


@pytest.mark.parametrize("fault", ["json-not-json", "config-other-zdim", "tensor-wrong-shape-restamped",
                                   "layout-missing-tensor", "tensor-bitflip"])
def test_damaged_checkpoint_on_sample(fault, run, capsys, tmp_path):
    CKPT_FAULTS[fault](run)
    expect_user_error(["sample", run, "--n", "4", "--out", tmp_path / "s.png"], capsys, tmp_path)


def test_checkpoints_of_another_run(runs, run, capsys, tmp_path):
    _other_run(runs)(run)
    line = expect_user_error(["train", "--resume", run, "--steps", "6", "--quiet"], capsys, tmp_path)
    assert "belongs to another run" in line and "model.z_dim=7" in line


def test_earlier_checkpoint_stays_usable(run, capsys):
    CKPT_FAULTS["tensor-bitflip"](run)
    assert main(["train", "--resume", str(run), "--steps", "6", "--quiet"]) == 2
    for p in (_latest(run), _latest(run).with_suffix(".safetensors")):  # what the message says to do
        p.rename(run / p.name)
    assert main(["train", "--resume", str(run), "--steps", "6", "--quiet"]) == 0
    assert checkpoint.step_of(checkpoint.latest(run / "checkpoints")) == 6


def test_damaged_last_log_line_is_dropped_on_resume(run, capsys):
    with open(run / "log.jsonl", "a") as fh:
        fh.write('{"step": 5, "loss_d": 0.3')  # a write cut short by a crash
    assert main(["train", "--resume", str(run), "--steps", "6", "--quiet"]) == 0
    rows = [json.loads(ln) for ln in (run / "log.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 6


# -- 5. run directories and file-system faults ------------------------------------------------------------------
def _fs(run: Path, kind: str) -> list:
    tmp = run.parent
    if kind == "out-is-file":
        (tmp / "afile").write_text("keep me")
        return ["train", "dcgan", "--out", tmp / "afile", *TINY, "--steps", "2"]
    if kind == "out-parent-is-file":
        (tmp / "afile").write_text("keep me")
        return ["train", "dcgan", "--out", tmp / "afile" / "sub", *TINY, "--steps", "2"]
    if kind == "out-holds-a-run":
        return ["train", "dcgan", "--out", run, *TINY, "--steps", "2"]
    if kind == "resume-missing":
        return ["train", "--resume", tmp / "nope", "--quiet"]
    if kind == "resume-not-a-run":
        (tmp / "empty").mkdir()
        return ["train", "--resume", tmp / "empty", "--quiet"]
    if kind == "resume-config-garbage":
        (run / "config.yaml").write_text("model: [unclosed")
        return ["train", "--resume", run, "--quiet", "--steps", "6"]
    if kind == "resume-config-bad-value":
        (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("batch_size: 64", "batch_size: 0")
                                         .replace("batch_size: 16", "batch_size: 0"))
        return ["train", "--resume", run, "--quiet", "--steps", "6"]
    if kind == "resume-config-is-dir":
        (run / "config.yaml").unlink()
        (run / "config.yaml").mkdir()
        return ["train", "--resume", run, "--quiet", "--steps", "6"]
    if kind == "resume-already-done":
        return ["train", "--resume", run, "--quiet", "--steps", "4"]
    if kind == "resume-no-checkpoints":
        shutil.rmtree(run / "checkpoints")
        return ["train", "--resume", run, "--quiet", "--steps", "6"]
    if kind == "resume-damaged-middle-log-line":
        lines = (run / "log.jsonl").read_text().splitlines()
        (run / "log.jsonl").write_text("\n".join(["{broken", *lines]) + "\n")
        return ["diagnose", run]
    if kind == "sample-out-under-file":
        (tmp / "afile").write_text("keep me")
        return ["sample", run, "--n", "4", "--out", tmp / "afile" / "x.png"]
    if kind == "sample-out-is-dir":
        (tmp / "adir").mkdir()
        return ["sample", run, "--n", "4", "--out", tmp / "adir"]
    raise AssertionError(kind)


FS_KINDS = ["out-is-file", "out-parent-is-file", "out-holds-a-run", "resume-missing", "resume-not-a-run",
            "resume-config-garbage", "resume-config-bad-value", "resume-config-is-dir", "resume-already-done",
            "resume-no-checkpoints", "resume-damaged-middle-log-line", "sample-out-under-file", "sample-out-is-dir"]


@pytest.mark.parametrize("kind", FS_KINDS)
def test_file_system_faults(kind, run, capsys, tmp_path):
    expect_user_error(_fs(run, kind), capsys, tmp_path)


@pytest.mark.parametrize("err", [errno.EACCES, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EIO])
def test_os_errors_while_creating_a_run(err, capsys, tmp_path, monkeypatch):
    """Permission denied, a read-only disk, no space ... (faked: the tests may run as root)."""
    monkeypatch.chdir(tmp_path)
    real_mkdir = Path.mkdir

    def mkdir(self, *a, **k):
        if "newrun" in str(self):
            raise OSError(err, os.strerror(err), str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    line = expect_user_error(["train", "dcgan", "--out", "newrun", *TINY, "--steps", "2"], capsys, tmp_path)
    assert "newrun" in line


@pytest.mark.parametrize("where", ["save_file", "json"])
def test_full_disk_during_a_checkpoint_keeps_earlier_ones(where, run, capsys, tmp_path, monkeypatch):
    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "save_file":
        monkeypatch.setattr(checkpoint, "save_file", no_space)
    else:
        import genzoo.io
        monkeypatch.setattr(genzoo.io.os, "fsync", no_space)
    before = snapshot(run / "checkpoints")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "6", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("genzoo: error: ") and "free" in err
    after = snapshot(run / "checkpoints")
    assert {k: after[k] for k in before} == before and not list((run / "checkpoints").glob("*.tmp"))


# -- 6. evaluation tools ------------------------------------------------------------------------------------------
EVAL_CASES = [
    ["evaluate", "{run}", "--metrics", "fid,nope"], ["evaluate", "{run}", "--n", "0"],
    ["evaluate", "{run}", "--n", "-5"], ["evaluate", "{run}", "--seed", str(2 ** 64)],
    ["evaluate", "{tmp}/nope"], ["evaluate"], ["evaluate", "--real", "nope"],
    ["sample", "{run}", "--n", "0"], ["sample", "{run}", "--label", "3"], ["sample", "{tmp}/nope"],
    ["interpolate", "{run}", "--seeds", "0"], ["interpolate", "{run}", "--seeds", "a,b"],
    ["sample", "{run}", "--n", "-1"],
]


@pytest.mark.parametrize("argv", EVAL_CASES, ids=lambda a: " ".join(a[2:] if len(a) > 2 else a)[:30])
def test_bad_evaluation_inputs(argv, run, capsys, tmp_path):
    expect_user_error([a.format(run=run, tmp=tmp_path) for a in argv], capsys, tmp_path)


@pytest.mark.parametrize("argv, flag", [
    (["sample", "{run}", "--n", "0"], "--n"), (["invert", "{run}", "--test", "2", "--restarts", "0"], "--restarts"),
    (["invert", "{run}", "--test", "2", "--encoder", "--encoder-steps", "0"], "--encoder-steps"),
    (["classifier", "train", "--dataset", "embedded", "--adversarial", "pgd", "--pgd-steps", "0", "--out",
      "{tmp}/c"], "--pgd-steps"),
    (["arithmetic", "{run}", "A - B", "--variations", "0"], "--variations"),
    (["attack", "lenet-mnist", "--n", "0"], "--n"), (["robustness", "lenet-mnist", "--n", "0"], "--n"),
    (["experiment", "modes", "--mixture", "ring8", "--jobs", "0", "--out", "{tmp}/m"], "--jobs"),
], ids=lambda a: " ".join(a[:1] + a[-2:]) if isinstance(a, list) else None)
def test_counts_below_1_name_the_flag_and_the_value(argv, flag, run, capsys, tmp_path):
    line = expect_user_error([a.format(run=run, tmp=tmp_path) for a in argv], capsys, tmp_path)
    assert line.endswith(f"{flag} must be at least 1, got 0"), line


def test_nan_features_are_an_error(capsys, tmp_path, monkeypatch):
    """A model whose outputs are not finite: FID on NaN features is one line, not a LinAlgError."""
    from genzoo.errors import GenzooError
    from genzoo.metrics import fid
    with pytest.raises(GenzooError, match="NaN or Inf"):
        fid(np.full((200, 4), np.nan), np.random.default_rng(0).normal(size=(200, 4)))


# -- 7. kill -9 during checkpoint writes, then an exact resume (subprocesses) --------------------------------------
KILLER = r"""
import os, signal, sys
from genzoo.training import checkpoint
kill_at, where, calls = int(sys.argv[1]), sys.argv[2], [0]
name = "save_file" if where == "tensors" else "atomic_write_bytes"
orig = getattr(checkpoint, name)
def dying(a, b):  # save_file(tensors, path) or atomic_write_bytes(path, data)
    calls[0] += 1
    if calls[0] == kill_at:  # half a file under the temp name, then the hardest possible stop
        path, data = (b, b"\0" * 1000) if where == "tensors" else (str(a) + ".tmp", b)
        with open(path, "wb") as fh:
            fh.write(data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    return orig(a, b)
setattr(checkpoint, name, dying)
from genzoo.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    _train(out, "--steps", "8", "--set", "train.ckpt_every=2")
    return load_file(str(out / "checkpoints" / "step_000008.safetensors"))


@pytest.mark.parametrize("kill_at, where", [(2, "tensors"), (3, "json")])  # step 4's tensors, step 6's JSON
def test_kill_9_during_checkpoint_write_then_exact_resume(kill_at, where, straight, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "GENZOO_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-c", KILLER, str(kill_at), where, "train", "dcgan", "--out", str(out),
                        *TINY, "--steps", "8", "--set", "train.ckpt_every=2"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    step = checkpoint.step_of(checkpoint.latest(out / "checkpoints"))
    assert step == 2 * kill_at - 2  # the checkpoint being written never counts
    assert main(["train", "--resume", str(out), "--steps", "8", "--quiet"]) == 0
    got = load_file(str(out / "checkpoints" / "step_000008.safetensors"))
    assert got.keys() == straight.keys() and all(torch.equal(got[k], straight[k]) for k in got)


def test_real_entry_point_prints_one_line(tmp_path):
    env = {**os.environ, "GENZOO_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-m", "genzoo", "train", "../../etc/passwd"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and p.stderr.startswith("genzoo: error: ")
    assert "Traceback" not in p.stderr and list(tmp_path.iterdir()) == []


def test_scripts_outside_the_cli_end_a_user_error_like_the_cli(capsys):
    from genzoo.errors import GenzooError, exit_on_user_error
    with pytest.raises(SystemExit) as e, exit_on_user_error():
        raise GenzooError("first line\nsecond line; what to do")
    assert e.value.code == 2
    assert capsys.readouterr().err == "genzoo: error: first line second line; what to do\n"
    with pytest.raises(ValueError), exit_on_user_error():  # a bug keeps its traceback
        raise ValueError("a bug")
    from genzoo.errors import Interrupted
    with pytest.raises(SystemExit) as e, exit_on_user_error():
        raise Interrupted("interrupted at step 7; checkpoint saved")
    assert e.value.code == 130 and capsys.readouterr().err == "genzoo: interrupted at step 7; checkpoint saved\n"
    with pytest.raises(SystemExit) as e, exit_on_user_error():
        raise KeyboardInterrupt
    assert e.value.code == 130 and capsys.readouterr().err == "genzoo: interrupted\n"
    with pytest.raises(SystemExit) as e, exit_on_user_error():  # the CLI's file-system branch, shared
        raise PermissionError(13, "Permission denied", "/x/out")
    assert e.value.code == 2 and capsys.readouterr().err.startswith("genzoo: error: /x/out: ")
