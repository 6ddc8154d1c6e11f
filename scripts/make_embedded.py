"""Rebuild genzoo's embedded dataset from an official MNIST copy.

    python scripts/make_embedded.py --data-root ../shared/data

Writes the first 10,000 training and first 2,000 test images (with labels) as gzipped IDX
into src/genzoo/data/embedded/. The content MD5s of the sources are verified first.
"""
import argparse
from pathlib import Path

from genzoo.data.idx import write_idx
from genzoo.data.mnist import load_idx_dataset

ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
ap.add_argument("--data-root", required=True)
args = ap.parse_args()
out = Path(__file__).resolve().parents[1] / "src" / "genzoo" / "data" / "embedded"
for split, n, tag in (("train", 10_000, "train10k"), ("test", 2_000, "test2k")):
    x, y = load_idx_dataset("mnist", split, args.data_root)
    write_idx(out / f"mnist-{tag}-images-idx3-ubyte.gz", x[:n])
    write_idx(out / f"mnist-{tag}-labels-idx1-ubyte.gz", y[:n].astype("uint8"))
    print(f"{split}: wrote {n} images to {out}")
