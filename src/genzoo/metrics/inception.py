"""Optional Inception FID/KID/IS, comparable with the literature (``fid[inception-v3]``).

genzoo ships no Inception weights (they are the 2015 TensorFlow graph's, 95 MB, and a download would
not work offline). A user who has the standard file passes it with ``--inception-weights PATH``, or
genzoo finds it where pytorch-fid and torch-fidelity cache it (``torch.hub``'s checkpoints folder):
  pt_inception-2015-12-05-6726825d.pth       pytorch-fid   https://github.com/mseitzer/pytorch-fid/releases
  weights-inception-2015-12-05-6726825d.pth  torch-fidelity https://github.com/toshas/torch-fidelity/releases
Both are PyTorch state dicts. They are read with ``torch.load(weights_only=True)``, whose restricted
unpickler only rebuilds tensors and plain containers and refuses anything else, so reading a file
cannot run code (genzoo requires torch >= 2.6 for this: older versions had a flaw, CVE-2025-32434). This is the
one place genzoo reads a pickle-format file, because the standard weights exist only in that format; genzoo's
own files are safetensors + JSON. A ``.safetensors`` file with the same keys works too (``convert_weights`` writes one).
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch
from tqdm import tqdm

from genzoo.io import sha256
from genzoo.errors import GenzooError
from genzoo.metrics.features import Features
from genzoo.nets.inception import FIDInceptionV3

EXTRACTOR = "inception-v3"
STANDARD_FILES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")
MISSING = ("Inception metrics skipped: no weights found; pass --inception-weights PATH to "
           f"{STANDARD_FILES[0]} (pytorch-fid) or {STANDARD_FILES[1]} (torch-fidelity), "
           "or put one in torch.hub's checkpoints folder")


def find_weights(explicit: str | os.PathLike | None = None) -> Path | None:
    """The weights file to use: ``explicit`` (which must exist), $GENZOO_INCEPTION_WEIGHTS, or a standard
    file in torch.hub's checkpoints folder; None when there is none."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise GenzooError(f"--inception-weights: no such file {path}")
        return path
    env = os.environ.get("GENZOO_INCEPTION_WEIGHTS")
    if env:
        return find_weights(env)
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    for name in STANDARD_FILES:
        if (hub / name).is_file():
            return hub / name
    return None


def _torch_version() -> tuple[int, int]:
    major, minor = torch.__version__.split("+")[0].split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors file or a PyTorch file read without running code."""
    bad = f"{path}: not a readable Inception weights file"
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError) as e:
            raise GenzooError(f"{bad} ({e})") from None
    else:
        if _torch_version() < (2, 6):  # older restricted unpicklers could be made to run code (CVE-2025-32434)
            raise GenzooError(f"{path}: reading .pth weights without running code needs torch >= 2.6 (this is "
                              f"{torch.__version__}); upgrade torch, or use a .safetensors copy")
        with open(path, "rb") as fh:
            head = fh.read(1)
        if not zipfile.is_zipfile(path) and head != b"\x80":  # neither a zip archive nor a legacy pickle
            raise GenzooError(f"{bad} (not a PyTorch file: truncated, or another format)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated archive, foreign objects, ...
            text = str(e)
            if "Weights only load failed" in text:
                why = "it holds Python objects other than tensors; genzoo never runs code from a weights file"
            else:
                why = f"{type(e).__name__}: {text.strip().splitlines()[0][:160]}" if text.strip() else type(e).__name__
            raise GenzooError(f"{bad} ({why})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GenzooError(f"{path}: not a state dict of tensors")
    return state


def _weights(net: FIDInceptionV3) -> dict[str, torch.Tensor]:
    """The tensors a weights file must supply: parameters and BN statistics, not BN's step counters."""
    return {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def load_inception(path: Path) -> tuple[FIDInceptionV3, str]:
    """The FID Inception-v3 with the weights at ``path``, and the file's SHA-256. Every parameter and
    batch-norm statistic must be present with its shape; extra keys (e.g. AuxLogits) are ignored."""
    net = FIDInceptionV3()
    state = read_state(path)
    need = _weights(net)
    missing = [k for k in need if k not in state]
    wrong = [k for k in need if k in state and tuple(state[k].shape) != tuple(need[k].shape)]
    if missing or wrong:
        what = (f"{len(missing)} missing keys (e.g. {missing[0]})" if missing else
                f"{len(wrong)} keys of the wrong shape (e.g. {wrong[0]}: {tuple(state[wrong[0]].shape)})")
        raise GenzooError(f"{path}: not FID Inception-v3 weights: {what}")
    net.load_state_dict({k: state[k].float() for k in need}, strict=False)
    net.eval().requires_grad_(False)
    net.to(memory_format=torch.channels_last)  # 1.5x faster on CPUs; features equal to ~1e-7 relative
    return net, sha256(path)


def convert_weights(src: Path, dst: Path) -> int:
    """Writes the weights of ``src`` as safetensors (only the keys genzoo uses); returns the key count."""
    from safetensors.torch import save_file

    net, _ = load_inception(src)
    state = {k: v.contiguous() for k, v in _weights(net).items()}
    tmp = dst.with_name(dst.name + ".tmp")
    save_file(state, str(tmp), metadata={"format": "genzoo fid-inception-v3"})
    os.replace(tmp, dst)
    return len(state)


@torch.inference_mode()
def extract_inception(net: FIDInceptionV3, images_u8: torch.Tensor, batch: int = 50,
                      progress: bool = False, desc: str = "inception features") -> Features:
    """uint8 (N, C, H, W) images -> 2048-d pool3 features and the 1008-way softmax."""
    feats, probs = [], []
    for chunk in tqdm(images_u8.split(batch), desc=desc, unit="batch", disable=not progress, dynamic_ncols=True,
                      leave=False):
        f = net.features(chunk)
        feats.append(f.double())
        probs.append(torch.softmax(net.fc(f).double(), 1))
    return Features(torch.cat(feats).numpy(), torch.cat(probs).numpy())


def inception_reference(net: FIDInceptionV3, digest: str, spec: str, root: str | None, n: int,
                        progress: bool = False) -> tuple[Features, dict]:
    """Inception features of the test split of ``spec`` (cached; the first ``n`` images, at most all), and the
    stamp (reference, n_reference, extractor, weights_sha256) that metrics computed against them carry."""
    from genzoo.data import load_dataset
    from genzoo.metrics.features import cached_features

    data = load_dataset(spec, "test", root)
    n_ref = min(n, len(data))
    ref = cached_features(data, spec, "test", n_ref, {"extractor": EXTRACTOR, "weights_sha256": digest},
                          lambda x: extract_inception(net, x, progress=progress, desc="inception: real test split"))
    return ref, {"reference": f"{spec}:test", "n_reference": n_ref, "extractor": EXTRACTOR, "weights_sha256": digest}
