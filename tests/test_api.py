"""The Python API: the documented examples run, and Run / train / evaluate agree with each other."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import genzoo
from genzoo import GenzooError

ROOT = Path(__file__).resolve().parents[1]


def _first_python_block(path: Path) -> str:
    m = re.search(r"```python\n(.*?)```", path.read_text(), flags=re.S)
    assert m, f"{path} has no python example"
    return m.group(1)


def _shrink(code: str) -> str:
    """The documented example with its sizes cut down for the test suite (same calls, fewer steps)."""
    code = re.sub(r"steps=\d+", "steps=12", code)
    code = re.sub(r"\bn=\d+", "n=300", code)
    return re.sub(r"sample\(\d+", "sample(300", code)  # FID needs more samples than its 128 features


@pytest.mark.parametrize("doc", ["README.md", "docs/api.md"])
def test_documented_example_runs(doc, tmp_path, monkeypatch, data_root):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(_shrink(_first_python_block(ROOT / doc)), doc, "exec"), scope)
    run = scope["run"]
    assert isinstance(run, genzoo.Run) and run.step == 12
    assert scope["x"].dtype == torch.uint8 and scope["x"].shape[1:] == (1, 28, 28)
    assert (tmp_path / "runs" / "nb" / "metrics.json").is_file()
    assert run.metrics["metrics"]["fid[lenet-mnist]"]["n"] == 300


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "r"
    return genzoo.train("dcgan", dataset="embedded", steps=6, out=out, progress=False,
                        overrides={"train.sample_every": 3, "train.ckpt_every": 3, "model.g_width": 8,
                                   "model.d_width": 8})


def test_run_reopens_what_train_returned(tiny_run):
    again = genzoo.Run.open(tiny_run.path)
    assert again.step == 6 and again.cfg.to_dict() == tiny_run.cfg.to_dict()
    assert again.cfg.data.image_size == 28 and again.cfg.data.channels == 1  # the resolved shape is recorded
    assert [r["step"] for r in again.log][-1] == 6
    assert again.traits.generates and not again.traits.encoder and again.kind == "gan"
    assert [p.name for p in again.checkpoints] == ["step_000003.json", "step_000006.json"]


def test_sample_is_seeded_uint8_and_chunked(tiny_run, monkeypatch):
    a = tiny_run.sample(7, seed=3)
    assert a.dtype == torch.uint8 and a.shape == (7, 1, 28, 28)
    assert torch.equal(a, tiny_run.sample(7, seed=3))
    assert not torch.equal(a, tiny_run.sample(7, seed=4))
    import genzoo.run as run_mod
    monkeypatch.setattr(run_mod, "CHUNK", 2)  # chunking must not change the images
    assert torch.equal(a, tiny_run.sample(7, seed=3))


def test_evaluate_samples_equals_evaluate_run(tiny_run, tmp_path):
    """The run path generates exactly run.sample(n, seed) and measures it like any tensor of samples."""
    by_run = genzoo.evaluate(tiny_run, n=300, seed=5, metrics="fid,pr")["metrics"]
    by_tensor = genzoo.evaluate(tiny_run.sample(300, seed=5), reference="embedded", metrics="fid,pr",
                                out=tmp_path)["metrics"]
    assert by_run["fid[lenet-mnist]"]["value"] == pytest.approx(by_tensor["fid[lenet-mnist]"]["value"], rel=1e-9)
    assert by_run["precision"]["value"] == by_tensor["precision"]["value"]
    assert (tmp_path / "metrics.json").is_file()
    by_model = genzoo.evaluate(tiny_run.algo, reference="embedded", n=300, seed=5, metrics="fid")["metrics"]
    assert by_model["fid[lenet-mnist]"]["value"] == pytest.approx(by_run["fid[lenet-mnist]"]["value"], rel=1e-9)


def test_resume_through_the_api_continues_the_same_run(tiny_run):
    run = genzoo.train(resume=tiny_run.path, steps=8, progress=False)
    assert run.step == 8 and run.path == tiny_run.path
    with pytest.raises(GenzooError, match="only --steps"):
        genzoo.train(resume=tiny_run.path, steps=9, seed=1)


def test_a_run_whose_data_moved_resumes_with_the_new_data_root(tmp_path, monkeypatch, data_root):
    """The data folder is where the dataset's files are, so it may change on resume (a run moved to another
    machine), and the resume stays exact; a folder that does not hold them is not written into config.yaml."""
    import shutil
    from safetensors.torch import load_file
    old, new, out = tmp_path / "old", tmp_path / "new", tmp_path / "r"
    shutil.copytree(data_root / "mnist", old / "mnist")
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "empty"))  # nowhere else to find MNIST
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GENZOO_OFFLINE", "1")
    small = {"train.sample_every": 2, "train.ckpt_every": 2, "model.g_width": 8, "model.d_width": 8}
    genzoo.train("dcgan", dataset="mnist", data_root=str(old), steps=2, out=out, progress=False, overrides=small)
    old.rename(new)
    with pytest.raises(GenzooError, match=f"put .* in {re.escape(str(old / 'mnist'))}, or point --data-root"):
        genzoo.train(resume=out, steps=3, progress=False)
    with pytest.raises(GenzooError, match=re.escape(str(tmp_path / "typo" / "mnist"))):
        genzoo.train(resume=out, steps=3, data_root=str(tmp_path / "typo"), progress=False)
    assert genzoo.Run.open(out).cfg.data.root == str(old)  # the mistyped folder was not kept
    run = genzoo.train(resume=out, steps=3, data_root=str(new), minutes=60, progress=False)
    assert run.step == 3 and (run.cfg.data.root, run.cfg.train.minutes) == (str(new), 60)
    straight = genzoo.train("dcgan", dataset="mnist", data_root=str(new), steps=3, out=tmp_path / "s",
                            progress=False, overrides=small)
    a, b = (load_file(r.path / "checkpoints" / "step_000003.safetensors") for r in (run, straight))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _cifar_jpegs(root, shade: int) -> None:
    """A CIFAR-10 JPEG archive of 8 flat 32x32 images under root/cifar10; ``shade`` changes image 0 only."""
    import io
    import tarfile
    from PIL import Image
    (root / "cifar10").mkdir(parents=True)
    with tarfile.open(root / "cifar10" / "cifar10-jpeg-train.tar.gz", "w:gz") as tar:
        for i in range(8):
            buf = io.BytesIO()
            Image.fromarray(np.full((32, 32, 3), shade if i == 0 else 30 * i, np.uint8)).save(buf, "JPEG")
            info = tarfile.TarInfo(f"train/{['cat', 'dog'][i % 2]}/{i}.jpg")
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))


def test_a_resume_on_other_images_of_the_same_shape_is_refused(tmp_path, monkeypatch):
    """The checkpoint records the data's SHA-256: a data folder holding other images of the same shape (another
    copy of the set, the JPEG mirror instead of the binary set) is one line, and is not kept in config.yaml."""
    same, other, out = tmp_path / "same", tmp_path / "other", tmp_path / "r"
    for folder, shade in ((tmp_path / "a", 0), (same, 0), (other, 200)):
        _cifar_jpegs(folder, shade)
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("GENZOO_OFFLINE", "1")
    small = {"train.sample_every": 2, "train.ckpt_every": 2, "train.batch_size": 4, "model.g_width": 8,
             "model.d_width": 8}
    genzoo.train("dcgan", dataset="cifar10", data_root=str(tmp_path / "a"), steps=2, out=out, progress=False,
                 overrides=small)
    with pytest.raises(GenzooError, match=r"not the data the run trained on .*step_000002.json records SHA-256 "
                       r"[0-9a-f]{12}\.\.\., the files found give [0-9a-f]{12}.*point --data-root") as e:
        genzoo.train(resume=out, steps=3, data_root=str(other), progress=False)
    assert "\n" not in str(e.value)
    assert genzoo.Run.open(out).cfg.data.root == str(tmp_path / "a")
    assert genzoo.train(resume=out, steps=3, data_root=str(same), progress=False).step == 3


@pytest.mark.parametrize("call, match", [
    (lambda: genzoo.Run.open("/nonexistent/run"), "no such run directory"),
    (lambda: genzoo.evaluate(torch.zeros(300, 1, 28, 28), reference="mnist"), "uint8"),
    (lambda: genzoo.evaluate(torch.zeros(300, 1, 28, 28, dtype=torch.uint8)), "reference="),
    (lambda: genzoo.train("dcgan", colour="red"), "unknown setting 'colour'"),
    (lambda: genzoo.train("dcgan", device="cuda:7", steps=1, out="/nonexistent/x"), "not available"),
    (lambda: genzoo.train("no-such-recipe"), "unknown recipe"),
])
def test_api_errors_are_one_line(call, match):
    with pytest.raises(GenzooError, match=match) as e:
        call()
    assert "\n" not in str(e.value)


def test_run_open_on_another_device_that_is_missing(tiny_run):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(GenzooError, match="no CUDA GPU"):
        genzoo.Run.open(tiny_run.path, device="cuda")
