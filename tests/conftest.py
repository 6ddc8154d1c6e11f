"""What the suite pins so that it passes on any machine, and the seed-offset switch.

Pinned for every test (and for the CLI subprocesses some tests start, through the environment):
  * precision: training configs say ``precision: auto``, which picks bf16 on CPUs with native bf16
    (AVX512-BF16, AMX). GENZOO_PRECISION=fp32 makes 'auto' mean fp32, and bf16 detection is
    switched off in this process too.
  * threads: exactly 2 intra-op threads (the summation order of a reduction depends on it).
  * deterministic algorithms wherever torch has them (warn_only: the few ops without a
    deterministic kernel still run).
  * the global torch/numpy/random generators are reseeded before every test, so no test depends
    on which tests ran before it.

Seed offset: ``GENZOO_TEST_SEED_OFFSET=N`` shifts every seed the tests use. Tests take seeds from
the ``seed`` fixture (``seed(k)`` is ``k + N``) instead of writing numbers, so running the suite
with N = 0, 1, 2, 3 checks that no assertion rests on one lucky draw.
"""
import os
import random
from pathlib import Path

import numpy as np
import pytest

SEED_OFFSET = int(os.environ.get("GENZOO_TEST_SEED_OFFSET", "0") or 0)
THREADS = 2

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
os.environ.setdefault("GENZOO_DATA", str(SHARED_DATA))
os.environ["GENZOO_OFFLINE"] = "1"               # tests never touch the network
os.environ["GENZOO_PRECISION"] = "fp32"          # precision 'auto' -> fp32, here and in CLI subprocesses
os.environ["OMP_NUM_THREADS"] = str(THREADS)     # for subprocesses; this process is set below
os.environ["MKL_NUM_THREADS"] = str(THREADS)
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")   # deterministic cuBLAS, should a GPU be used

import torch  # noqa: E402  (after the environment above)

torch.set_num_threads(THREADS)
torch.use_deterministic_algorithms(True, warn_only=True)
torch.set_float32_matmul_precision("highest")
torch.backends.cudnn.benchmark = False


def seed(k: int = 0) -> int:
    """The k-th seed of a test, shifted by GENZOO_TEST_SEED_OFFSET."""
    return k + SEED_OFFSET


def pytest_report_header(config):
    return (f"genzoo pins: precision fp32, {torch.get_num_threads()} threads, deterministic algorithms; "
            f"seed offset {SEED_OFFSET} (GENZOO_TEST_SEED_OFFSET)")


@pytest.fixture(scope="session", autouse=True)
def _no_bf16_detection():
    """Belt and braces for precision 'auto': even a code path that ignores GENZOO_PRECISION sees no bf16."""
    import genzoo.algos.base as base
    mp = pytest.MonkeyPatch()
    mp.setattr(base, "bf16_supported", lambda device: False)
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _reseed():
    torch.manual_seed(seed(0))
    np.random.seed(seed(0))
    random.seed(seed(0))
    yield


@pytest.fixture(name="seed", scope="session")
def seed_fixture():
    """``seed(k)``: the k-th seed of a test, shifted by GENZOO_TEST_SEED_OFFSET."""
    return seed


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = Path(os.environ["GENZOO_DATA"])
    if not (root / "mnist").is_dir():
        pytest.skip(f"local dataset copies not found at {root}")
    return root


@pytest.fixture(scope="session")
def cifar_test(tmp_path_factory, data_root) -> Path:
    """The CIFAR-10 JPEG test split unpacked to a temporary folder (test/<class>/*.jpg)."""
    import tarfile

    out = tmp_path_factory.mktemp("cifar10")
    with tarfile.open(data_root / "cifar10" / "cifar10-jpeg-test.tar.gz") as tar:
        tar.extractall(out, filter="data")
    return out


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory):
    """Inception weights in the standard file layout (no real ones exist offline): random weights and BN
    statistics, no num_batches_tracked, plus a stray key. Returns (path of the .pth, the state dict)."""
    from genzoo.nets.inception import FIDInceptionV3

    torch.manual_seed(0)
    state = FIDInceptionV3().state_dict()
    for k, v in state.items():
        if k.endswith("running_var"):
            v.uniform_(0.5, 2.0)
        elif k.endswith("running_mean") or k.endswith(".bias"):
            v.normal_(0, 0.1)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("w") / "pt_inception-2015-12-05-6726825d.pth"
    torch.save({**state, "AuxLogits.fc.weight": torch.zeros(1008, 768)}, path)
    return path, state
