import errno
import json

import pytest
import torch

from genzoo.training import checkpoint
from genzoo.errors import GenzooError


def _state():
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.9))
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    return net, opt, {"nets": {"n": net.state_dict()}, "opt": opt.state_dict(), "rng": torch.get_rng_state()}


def test_roundtrip_restores_optimizer_exactly(tmp_path):
    net, opt, state = _state()
    path = checkpoint.save(tmp_path, 7, state, {"config": {"a": 1}})
    loaded, meta = checkpoint.load(path)
    assert meta["step"] == 7 and meta["config"] == {"a": 1} and "genzoo_version" in meta
    net2 = torch.nn.Linear(3, 2)
    opt2 = torch.optim.Adam(net2.parameters(), lr=5.0)
    net2.load_state_dict(loaded["nets"]["n"])
    opt2.load_state_dict(loaded["opt"])
    assert opt2.param_groups[0]["lr"] == 1e-3 and tuple(opt2.param_groups[0]["betas"]) == (0.5, 0.9)
    x = torch.randn(4, 3)
    for o, n in ((opt, net), (opt2, net2)):  # one more step on both: identical results
        o.zero_grad()
        n(x).sum().backward()
        o.step()
    assert torch.equal(net.weight, net2.weight)
    assert torch.equal(loaded["rng"], state["rng"])
    assert not list(tmp_path.glob("*.tmp"))


def test_json_has_no_pickle_and_names_tensors(tmp_path):
    _, _, state = _state()
    doc = json.loads(checkpoint.save(tmp_path, 1, state, {}).read_text())
    assert doc["tensors"] == "step_000001.safetensors" and len(doc["sha256"]) == 64


def test_truncated_checkpoint_gets_clear_error(tmp_path):
    _, _, state = _state()
    path = checkpoint.save(tmp_path, 3, state, {})
    st = path.with_suffix(".safetensors")
    st.write_bytes(st.read_bytes()[:-40])
    with pytest.raises(GenzooError, match="truncated or corrupt"):
        checkpoint.load(path)


def test_full_disk_keeps_earlier_checkpoint(tmp_path, monkeypatch):
    _, _, state = _state()
    first = checkpoint.save(tmp_path, 1, state, {})

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", no_space)
    with pytest.raises(GenzooError, match="No space left on device"):
        checkpoint.save(tmp_path, 2, state, {})
    assert checkpoint.latest(tmp_path) == first
    checkpoint.load(first)  # still valid
    assert not list(tmp_path.glob("*.tmp"))


def test_prune_keeps_newest(tmp_path):
    _, _, state = _state()
    for s in (1, 2, 3, 4):
        checkpoint.save(tmp_path, s, state, {})
    checkpoint.prune(tmp_path, 2)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step_000003.json", "step_000004.json"]
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
