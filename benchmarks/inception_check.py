"""Checks genzoo's FID Inception-v3 against torch-fidelity's extractor, with the same random weights.

    pip install --no-deps torch-fidelity      # its package __init__ wants torchvision; this script avoids it
    python benchmarks/inception_check.py [--n 8]
    python benchmarks/inception_check.py --speed 500     # only time the extractor (no torch-fidelity needed)

No weights are downloaded: both networks get one random state dict (random BN statistics too), saved
in the standard file layout, and must agree on the 2048-d features and the 1008 logits for the same
uint8 images (grey 28 x 28 and RGB 32 x 32). Prints the largest relative differences, and also writes the
standard layout's key -> shape table that tests/test_inception.py pins (``--write-layout PATH``).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

from genzoo.errors import exit_on_user_error
from genzoo.nets.inception import FIDInceptionV3


def torch_fidelity_extractor():
    spec = importlib.util.find_spec("torch_fidelity")
    if spec is None:
        sys.exit("torch-fidelity is not installed: pip install --no-deps torch-fidelity")
    pkg = types.ModuleType("torch_fidelity")  # the package without its __init__ (which imports torchvision)
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["torch_fidelity"] = pkg
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    return FeatureExtractorInceptionV3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--write-layout", default=None)
    ap.add_argument("--speed", type=int, default=0, help="time feature extraction of this many 28x28 images")
    args = ap.parse_args()
    torch.manual_seed(0)
    ours = FIDInceptionV3()
    if args.speed:
        from genzoo.metrics.inception import extract_inception
        ours.to(memory_format=torch.channels_last)  # as genzoo.metrics.inception.load_inception does
        x = torch.randint(0, 256, (args.speed, 1, 28, 28), dtype=torch.uint8)
        extract_inception(ours, x[:50])  # warm-up
        t = time.perf_counter()
        extract_inception(ours, x)
        rate = args.speed / (time.perf_counter() - t)
        print(f"FID Inception-v3 on {torch.get_num_threads()} threads: {rate:.1f} images/s; 10,000 samples "
              f"{10_000 / rate / 60:.1f} min, plus the same once for the cached reference")
        return
    with torch.no_grad():
        for name, t in ours.state_dict().items():
            if name.endswith("running_var"):
                t.uniform_(0.5, 2.0)
            elif name.endswith("running_mean") or name.endswith(".bias"):
                t.normal_(0, 0.1)
            elif name.endswith("bn.weight"):
                t.uniform_(0.8, 1.2)
    Extractor = torch_fidelity_extractor()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.pth"
        torch.save(ours.state_dict(), path)
        theirs = Extractor("inception-v3-compat", ["2048", "logits"], feature_extractor_weights_path=str(path))
    g = torch.Generator().manual_seed(1)
    for shape in ((args.n, 1, 28, 28), (args.n, 3, 32, 32), (args.n, 3, 299, 299)):
        x = torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
        with torch.no_grad():
            f_ours = ours.features(x)
            l_ours = ours.fc(f_ours)
            f_theirs, l_theirs = theirs(x.expand(-1, 3, -1, -1).contiguous())
        rel_f = ((f_ours - f_theirs).abs().max() / f_theirs.abs().max()).item()
        rel_l = ((l_ours - l_theirs).abs().max() / l_theirs.abs().max()).item()
        print(f"input {tuple(shape)}: max relative difference, features {rel_f:.2e}, logits {rel_l:.2e}")
    if args.write_layout:
        layout = {k: list(v.shape) for k, v in theirs.state_dict().items()}
        Path(args.write_layout).write_text(json.dumps(layout, indent=0) + "\n")
        print(f"wrote {len(layout)} keys to {args.write_layout}")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
