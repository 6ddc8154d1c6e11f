import gzip
import shutil
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import BatchSampler, load_dataset, parse_spec, to_float, to_uint8
from genzoo.data.idx import parse_idx, read_idx, write_idx
from genzoo.data.mnist import SOURCES
from genzoo.data.toy import mode_centers
from genzoo.errors import GenzooError


# -- IDX ----------------------------------------------------------------------------------
def _idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape) + arr.tobytes()


def test_idx_parses_hand_made_header():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = parse_idx(_idx_bytes(arr))
    assert out.shape == (2, 3, 4) and (out == arr).all()


@pytest.mark.parametrize("cut", [1, 100, 2000])
def test_idx_truncated_is_refused(cut):
    data = _idx_bytes(np.zeros((10, 28, 28), np.uint8))
    with pytest.raises(GenzooError, match="truncated"):
        parse_idx(data[:-cut])


def test_idx_bad_magic_and_trailing_bytes():
    data = bytearray(_idx_bytes(np.zeros((4, 4), np.uint8)))
    with pytest.raises(GenzooError, match="trailing"):
        parse_idx(bytes(data) + b"\x00")
    data[0] = 7
    with pytest.raises(GenzooError, match="magic"):
        parse_idx(bytes(data))


def test_idx_gzip_roundtrip_and_truncated_gzip(tmp_path):
    arr = np.random.default_rng(0).integers(0, 255, (50, 28, 28), dtype=np.uint8)
    p = tmp_path / "x-idx3-ubyte.gz"
    write_idx(p, arr)
    assert (read_idx(p) == arr).all()
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    with pytest.raises(GenzooError, match="corrupt or truncated gzip"):
        read_idx(p)


def test_mnist_checksum_mismatch_is_refused(tmp_path, data_root):
    """A well-formed but wrong file under an official name must not load silently."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for f in (data_root / "mnist").iterdir():
        shutil.copy(f, folder / f.name)
    arr = read_idx(folder / "t10k-labels-idx1-ubyte.gz").copy()
    arr[0] = (arr[0] + 1) % 10
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", arr)
    with pytest.raises(GenzooError, match="checksum mismatch"):
        load_dataset("mnist", "test", root=str(tmp_path))


def test_mnist_and_fashion_from_local_copy(data_root):
    tr = load_dataset("mnist", "train", root=str(data_root))
    te = load_dataset("fashion-mnist", "test", root=str(data_root))
    assert tr.x.shape == (60000, 1, 28, 28) and tr.x.dtype == torch.uint8
    assert te.x.shape == (10000, 1, 28, 28) and te.num_classes == 10
    # MNIST's training label counts are well known: 5923 zeros, 6742 ones
    counts = torch.bincount(tr.y)
    assert counts[0] == 5923 and counts[1] == 6742


@pytest.mark.parametrize("spec, sub", [("mnist", "mnist"), ("cifar10", "cifar10")])
@pytest.mark.parametrize("where", ["root", "env", "neither"])
def test_missing_dataset_offline_says_where(spec, sub, where, tmp_path, monkeypatch):
    """The folder named is the one the user chose: --data-root, else $GENZOO_DATA's value, else both options."""
    import re
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("GENZOO_OFFLINE", "1")
    if where == "env":
        monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "env"))
    else:
        monkeypatch.delenv("GENZOO_DATA", raising=False)
    root = str(tmp_path / "root") if where == "root" else None
    expected = {"root": f"{tmp_path / 'root' / sub}, or point --data-root at the folder that holds them",
                "env": f"{tmp_path / 'env' / sub} ($GENZOO_DATA), or pass --data-root DIR",
                "neither": f"$GENZOO_DATA/{sub} or {cache / 'genzoo' / sub}, or pass --data-root DIR"}[where]
    with pytest.raises(GenzooError, match=r"put .* in " + re.escape(expected) + "$") as e:
        load_dataset(spec, root=root)
    assert "\n" not in str(e.value)


def test_embedded_is_the_first_mnist_images(data_root):
    emb = load_dataset("embedded")
    full = load_dataset("mnist", root=str(data_root))
    assert emb.x.shape == (10000, 1, 28, 28)
    assert torch.equal(emb.x, full.x[:10000]) and torch.equal(emb.y, full.y[:10000])
    assert load_dataset("embedded", "test").x.shape == (2000, 1, 28, 28)


def test_resize_and_channels():
    emb = load_dataset("embedded", "test", image_size=32, channels=3)
    assert emb.x.shape == (2000, 3, 32, 32) and emb.x.dtype == torch.uint8
    assert torch.equal(emb.x[:, 0], emb.x[:, 2])  # gray replicated


def test_uint8_float_roundtrip():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    f = to_float(x)
    assert f.min() == -1 and f.max() == 1
    assert torch.equal(to_uint8(f), x)


@pytest.mark.parametrize("spec", ["mnits", "toy:ring9", "folder:", "", "cifar100"])
def test_bad_spec(spec):
    with pytest.raises(GenzooError, match="valid specs"):
        parse_spec(spec)


# -- folders --------------------------------------------------------------------------
def _make_folder(root, n_per_class=3, bad=True):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(n_per_class):
            Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    if bad:
        (root / "dog" / "broken.jpg").write_bytes(b"this is not a jpeg")


def test_folder_with_bad_image_warns_and_skips(tmp_path):
    _make_folder(tmp_path)
    with pytest.warns(UserWarning, match="broken.jpg"):
        ds = load_dataset(f"folder:{tmp_path}", image_size=16, channels=1)
    assert ds.x.shape == (6, 1, 16, 16)
    assert ds.class_names == ["cat", "dog"] and ds.y.tolist() == [0, 0, 0, 1, 1, 1]


def test_folder_strict_rejects_bad_image(tmp_path):
    _make_folder(tmp_path)
    with pytest.raises(GenzooError, match="broken.jpg"):
        load_dataset(f"folder:{tmp_path}", strict=True)


def test_folder_unlabelled_keeps_native_size(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((12, 12), i * 50, np.uint8)).save(tmp_path / f"{i}.png")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ds = load_dataset(f"folder:{tmp_path}")
    assert [str(w.message) for w in seen if "train/ and test/" not in str(w.message)] == []  # only the split note
    assert ds.x.shape == (3, 1, 12, 12) and ds.y is None
    assert ds.x[2].unique().tolist() == [100]


def test_folder_cifar10_test_split(cifar_test):
    ds = load_dataset(f"folder:{cifar_test}", "test")
    assert ds.x.shape == (10000, 3, 32, 32)
    assert ds.class_names[0] == "airplane" and torch.bincount(ds.y).tolist() == [1000] * 10


# -- toy mixtures --------------------------------------------------------------------------
@pytest.mark.parametrize("name,n_modes,std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_toy_statistics(name, n_modes, std):
    ds = load_dataset(f"toy:{name}", toy_samples=50_000)
    centers = mode_centers(name)
    assert len(centers) == n_modes
    d = torch.cdist(ds.x, centers)
    nearest = d.argmin(1)
    freq = torch.bincount(nearest, minlength=n_modes).float() / len(ds)
    assert (freq - 1 / n_modes).abs().max() < 0.01
    resid = ds.x - centers[nearest]
    assert resid.mean(0).abs().max() < 3 * std / 50  # unbiased around each mode
    assert abs(resid.std().item() - std) / std < 0.03
    if name == "ring8":
        assert torch.allclose(centers.norm(dim=1), torch.ones(8))


def test_batch_sampler_resumes_same_order():
    a = BatchSampler(100, 32, seed=3)
    for _ in range(5):
        a.next()
    state = a.state_dict()
    expected = [a.next() for _ in range(7)]
    b = BatchSampler(100, 32, seed=99)
    b.load_state_dict(state)
    assert all(torch.equal(x, y) for x, y in zip(expected, [b.next() for _ in range(7)]))


# -- CIFAR-10 ---------------------------------------------------------------------------
def _binary_cifar_tar(path, n_per_batch=3, truncate=False):
    import io
    import tarfile
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            labels = rng.integers(0, 10, n_per_batch, dtype=np.uint8)
            pix = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
            raw = np.concatenate([labels[:, None], pix], 1).tobytes()
            if truncate and name == "test_batch.bin":
                raw = raw[:-7]
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return pix, labels  # of the last (test) batch


def test_cifar10_binary_format(tmp_path):
    (tmp_path / "cifar10").mkdir()
    pix, labels = _binary_cifar_tar(tmp_path / "cifar10" / "cifar-10-binary.tar.gz")
    ds = load_dataset("cifar10", "test", root=str(tmp_path))
    assert ds.x.shape == (3, 3, 32, 32) and ds.y.tolist() == labels.tolist()
    assert torch.equal(ds.x.flatten(1), torch.from_numpy(pix))  # channel-major rows, as the format says
    assert len(load_dataset("cifar10", "train", root=str(tmp_path))) == 15


def test_cifar10_truncated_binary_is_refused(tmp_path):
    (tmp_path / "cifar10").mkdir()
    _binary_cifar_tar(tmp_path / "cifar10" / "cifar-10-binary.tar.gz", truncate=True)
    with pytest.raises(GenzooError, match="truncated"):
        load_dataset("cifar10", "test", root=str(tmp_path))


def test_dataset_digest_tells_images_and_labels_apart():
    from genzoo.data import Dataset
    x = torch.randint(0, 256, (6, 1, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    y = torch.arange(6) % 2
    d = Dataset("a", x, y).files_sha256()
    assert len(d) == 64 and Dataset("b", x.clone(), y.clone()).files_sha256() == d  # the content, not the object
    assert Dataset("a", x.transpose(2, 3).contiguous().transpose(2, 3), y).files_sha256() == d  # a strided view
    x2 = x.clone()
    x2[5, 0, 3, 3] ^= 1
    others = [Dataset("a", x2, y), Dataset("a", x, 1 - y), Dataset("a", x), Dataset("a", x.reshape(6, 1, 2, 8), y)]
    assert len({d} | {o.files_sha256() for o in others}) == 5
    assert Dataset("t", torch.randn(5, 2)).files_sha256() is None  # points: drawn from the seed, not read from files


def test_dataset_digest_is_of_the_images_as_read_not_as_resized():
    """Resizing and recolouring use float arithmetic, which may differ in the last bit between CPUs: the
    digest is taken before them, so it is the same at every size, and it follows the data to the GPU copy."""
    from dataclasses import replace
    plain = load_dataset("embedded", "test")
    big = load_dataset("embedded", "test", image_size=32, channels=3)
    assert big.x.shape[1:] == (3, 32, 32) and big.files_sha256() == plain.files_sha256() is not None
    assert replace(big, x=big.x[:1]).files_sha256() == big.files_sha256()


def test_paired_digest_covers_a_read_from_files_only():
    from genzoo.data.pairs import PairedDataset
    b = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    a1, a2 = b[:, :1].clone(), b[:, 1:2].clone()
    read = lambda a, task: PairedDataset("folder:p", b, None, a=a, task=task).files_sha256()  # noqa: E731
    assert read(a1, "ab") != read(a2, "ab")                  # A read from files: part of the data
    assert read(a1, "gray2color") == read(a2, "gray2color")  # A built from B: B says it all


def test_cifar10_jpeg_mirror(data_root):
    ds = load_dataset("cifar10", "test", root=str(data_root))
    assert ds.x.shape == (10000, 3, 32, 32) and torch.bincount(ds.y).tolist() == [1000] * 10
    assert ds.class_names[3] == "cat"


# -- hostile and odd image files -------------------------------------------------------------------
def png_header(w: int, h: int) -> bytes:
    """A tiny PNG file that declares w x h pixels (a decompression bomb when large)."""
    import struct
    import zlib
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))  # noqa: E731
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("w, h", [(8000, 7500), (30000, 30000)])  # over genzoo's limit; over Pillow's bomb limit
def test_folder_skips_huge_images_or_refuses_under_strict(tmp_path, w, h):
    from genzoo.data.folder import load_folder
    for i in range(2):
        Image.fromarray(np.full((12, 12), i * 50, np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "huge.png").write_bytes(png_header(w, h))
    with pytest.warns(UserWarning, match="skipped 1 unreadable or too large image.*huge.png"):
        x, _, _, _ = load_folder(str(tmp_path), "train", None, None, False)
    assert x.shape == (2, 1, 12, 12)
    with pytest.raises(GenzooError, match="huge.png.*drop --strict"):
        load_folder(str(tmp_path), "train", None, None, True)


def test_pixel_limit_is_configurable(tmp_path, monkeypatch):
    from genzoo.data.folder import load_folder
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((24, 24), np.uint8)).save(tmp_path / "b.png")
    monkeypatch.setenv("GENZOO_MAX_PIXELS", "200")
    with pytest.warns(UserWarning, match="b.png: 24x24 = 0 megapixels, over the 0.0002-megapixel limit"):
        x, _, _, _ = load_folder(str(tmp_path), "train", None, None, False)
    assert len(x) == 1


def test_cifar_jpeg_tar_with_odd_sizes_is_resized(tmp_path):
    import io
    import tarfile
    from genzoo.data.cifar import _read_jpeg_tar
    path = tmp_path / "cifar10-jpeg-test.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, size in (("test/cat/0.jpg", 32), ("test/dog/1.jpg", 40), ("test/dog/2.jpg", 0)):
            buf = io.BytesIO()
            if size:
                Image.fromarray(np.full((size, size, 3), 128, np.uint8)).save(buf, "JPEG")
            else:
                buf.write(b"not a jpeg")
            info = tarfile.TarInfo(name)
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))
    with pytest.warns(UserWarning) as seen:
        x, y = _read_jpeg_tar(path)
    msgs = " ".join(str(w.message) for w in seen)
    assert "resized 1 image(s)" in msgs and "skipped 1 unreadable image(s): test/dog/2.jpg" in msgs
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [3, 5]


def test_idx_size_check_cannot_overflow():
    from genzoo.data.idx import parse_idx
    with pytest.raises(GenzooError, match="truncated IDX file.*fetch it again"):
        parse_idx(bytes([0, 0, 8, 4]) + b"\xff\xff\xff\xff" * 4 + b"\0" * 16)
    with pytest.raises(GenzooError, match="truncated IDX file"):
        parse_idx(bytes([0, 0, 8, 3]) + (1 << 21).to_bytes(4, "big") * 3)  # 2**63 bytes: int64 would wrap
