import errno
import json

import pytest
import torch

from genzoo.training import checkpoint, fits
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


# -- the JSON is validated and covered by the integrity check -----------------------------------
def _restamp(path, doc):
    """Write ``doc`` back with a fresh meta hash, as a careful forger would."""
    doc.pop("meta_sha256", None)
    doc["meta_sha256"] = checkpoint._digest(doc)
    path.write_text(json.dumps(doc))


def test_meta_hash_covers_the_json(tmp_path):
    _, _, state = _state()
    path = checkpoint.save(tmp_path, 5, state, {"config": {"a": 1}, "data_shape": [1, 28, 28]})
    doc = json.loads(path.read_text())
    assert len(doc["meta_sha256"]) == 64
    doc["data_shape"] = [1, 32, 32]  # edited without re-stamping
    path.write_text(json.dumps(doc))
    with pytest.raises(GenzooError, match="damaged or belongs to another run.*SHA-256"):
        checkpoint.load(path)


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.pop("layout"), "missing layout"),
    (lambda d: d.pop("step"), "missing step"),
    (lambda d: d.update(step=9), "'step' is 9"),
    (lambda d: d.update(step="5"), "wrong type"),
    (lambda d: d.update(tensors="../../etc/passwd"), "'tensors' names"),
    (lambda d: d.update(sha256="xyz"), "not a SHA-256"),
    (lambda d: d.update(data_shape=[0, -1]), "data_shape"),
    (lambda d: d.update(data_shape="big"), "data_shape"),
    (lambda d: d.update(config=[1]), "'config' is not an object"),
    (lambda d: d["layout"].update(extra={"__tensor__": "nope"}), "names tensor 'nope'"),
    (lambda d: d["layout"].update(deep=json.loads("[" * 200 + "]" * 200)), "nested deeper"),
    (lambda d: d["layout"].update({"__int__x": 1}), "layout is malformed"),
])
def test_schema_violations_are_one_clear_error(tmp_path, edit, match):
    _, _, state = _state()
    path = checkpoint.save(tmp_path, 5, state, {"config": {"a": 1}, "data_shape": [1, 28, 28]})
    doc = json.loads(path.read_text())
    edit(doc)
    _restamp(path, doc)
    with pytest.raises(GenzooError, match=match):
        checkpoint.load(path)


def test_recursion_bomb_is_refused(tmp_path):
    _, _, state = _state()
    path = checkpoint.save(tmp_path, 5, state, {})
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(GenzooError, match="damaged or belongs to another run"):
        checkpoint.load(path)


def _tiny_cfg(**kw):
    from genzoo.config_files import load_recipe
    cfg = load_recipe("dcgan", "embedded")
    for k, v in {"model.g_width": 8, "model.d_width": 8, **kw}.items():
        cfg.set(k, v)
    cfg.data.channels, cfg.data.image_size = 1, 28
    return cfg


def test_check_belongs_and_check_state(tmp_path):
    from genzoo.training.build import build_algo
    cfg = _tiny_cfg()
    algo = build_algo(cfg, (1, 28, 28), torch.device("cpu"))
    path = checkpoint.save(tmp_path, 2, {"algo": algo.state_dict()},
                           {"config": cfg.to_dict(), "data_shape": [1, 28, 28]})
    state, meta = checkpoint.load(path, expect=cfg)
    fits.check_state(state, algo, path)
    other = _tiny_cfg(**{"model.z_dim": 7})
    with pytest.raises(GenzooError, match="model.z_dim=100, this run has model.z_dim=7"):
        checkpoint.load(path, expect=other)
    other.set("train.steps", 99999)  # steps, precision and device may change on resume
    cfg.set("train.steps", 99999)
    checkpoint.check_belongs(meta, cfg, (1, 28, 28))
    with pytest.raises(GenzooError, match="shape"):
        checkpoint.check_belongs(meta, cfg, (3, 28, 28))
    small = build_algo(other, (1, 28, 28), torch.device("cpu"))
    with pytest.raises(GenzooError, match="this run's is"):
        fits.check_state(state, small, path)
    with pytest.raises(GenzooError, match="no 'algo' state"):
        fits.check_state({"x": 1}, algo, path)


def test_damaged_latest_leaves_earlier_usable(tmp_path):
    _, _, state = _state()
    first = checkpoint.save(tmp_path, 1, state, {})
    second = checkpoint.save(tmp_path, 2, state, {})
    second.write_text("{")
    with pytest.raises(GenzooError, match="move step_000002.json and step_000002.safetensors"):
        checkpoint.load(second)
    checkpoint.load(first)


def test_resumed_fused_adam_keeps_channels_last_moments_paired():
    """A checkpoint stores Adam's moments contiguous while conv weights are channels_last; the fused kernel
    walks both in memory order, so loading must give the moments the weight's layout again (else the resumed
    update pairs the wrong elements: 0.15 apart here)."""
    from genzoo.algos.base import match_param_layout

    torch.manual_seed(0)
    w = torch.randn(8, 4, 3, 3).contiguous(memory_format=torch.channels_last)
    p, q = torch.nn.Parameter(w.clone()), torch.nn.Parameter(w.clone())
    straight = torch.optim.Adam([p], lr=0.1, fused=True)
    resumed = torch.optim.Adam([q], lr=0.1, fused=True)
    g1, g2 = torch.randn_like(w), torch.randn_like(w)
    p.grad = g1.clone()
    straight.step()
    q.grad = g1.clone()
    resumed.step()
    state = resumed.state_dict()  # what a checkpoint round trip returns: contiguous moments
    state["state"][0] = {k: v.contiguous() for k, v in state["state"][0].items()}
    resumed.load_state_dict(state)
    match_param_layout(resumed)
    assert resumed.state[q]["exp_avg"].stride() == q.stride()
    p.grad, q.grad = g2.clone(), g2.clone()
    straight.step()
    resumed.step()
    assert torch.equal(p, q)
