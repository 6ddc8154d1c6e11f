import os
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
os.environ.setdefault("GENZOO_DATA", str(SHARED_DATA))
os.environ["GENZOO_OFFLINE"] = "1"  # tests never touch the network
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


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
