"""How a run was made (RUN/command.json, shown in the report) and `train.tensorboard` event files: tiny runs on
the embedded set, the events read back with TensorBoard's own EventAccumulator."""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest

from genzoo.cli import main

TINY = ["--dataset", "embedded", "--quiet", "--set", "model.g_width=8", "--set", "model.d_width=8",
        "--set", "train.log_every=1", "--set", "train.sample_every=3", "--set", "train.ckpt_every=3"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("GENZOO_OFFLINE", "1")


def _text(path: Path) -> str:
    from html.parser import HTMLParser
    parts = []
    p = HTMLParser()
    p.handle_data = parts.append
    p.feed(path.read_text())
    return " ".join(parts)


def _rows(run: Path) -> list[dict]:
    return [r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "event" not in r]


def _events(run: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _check_scalars(run: Path):
    acc = _events(run)
    rows = _rows(run)
    assert rows
    tags = set(acc.Tags()["scalars"])
    for row in rows:
        for k, v in row.items():
            if k == "step" or v is None:
                continue
            assert k in tags, k
            got = {e.step: e.value for e in acc.Scalars(k)}
            assert row["step"] in got, (k, row["step"])
            assert math.isclose(got[row["step"]], v, rel_tol=1e-5, abs_tol=1e-6), (k, row["step"], got, v)
    logged = {(k, r["step"]) for r in rows for k, v in r.items() if k != "step" and v is not None}
    assert sum(len(acc.Scalars(t)) for t in tags) == len(logged), "no scalar TensorBoard has that log.jsonl lacks"
    return acc


def test_tensorboard_events_match_log_and_command_is_recorded(tmp_path):
    pytest.importorskip("tensorboard")
    run = tmp_path / "tb"
    assert main(["train", "dcgan", *TINY, "--steps", "6", "--set", "train.tensorboard=true", "--out", str(run)]) == 0
    assert list(run.glob("events.out.tfevents.*"))
    acc = _check_scalars(run)
    grids = sorted(int(p.stem.split("_")[1]) for p in (run / "samples").glob("step_*.png"))
    assert [e.step for e in acc.Images("samples")] == grids
    assert acc.Images("samples")[0].width > 0
    recs = json.loads((run / "command.json").read_text())
    assert len(recs) == 1 and recs[0]["mode"] == "train" and recs[0]["start_step"] == 0
    assert recs[0]["argv"][:3] == ["genzoo", "train", "dcgan"] and "train.tensorboard=true" in recs[0]["argv"]
    assert recs[0]["device"] == "cpu" and recs[0]["precision"] in ("fp32", "bf16", "fp16")
    import torch
    import genzoo
    assert recs[0]["torch"] == torch.__version__ and recs[0]["genzoo"] == genzoo.__version__
    # a resume adds a record and keeps TensorBoard and log.jsonl in step
    assert main(["train", "--resume", str(run), "--steps", "8", "--quiet"]) == 0
    recs = json.loads((run / "command.json").read_text())
    assert [r["mode"] for r in recs] == ["train", "resume"] and recs[1]["start_step"] == 6
    _check_scalars(run)
    text = _text(run / "report.html")
    assert "genzoo train dcgan --dataset embedded" in text and "resume 1" in text
    assert "genzoo train --resume" in text and "(resolved; configured" in text


def test_alerts_become_tensorboard_text(tmp_path):
    pytest.importorskip("tensorboard")
    from genzoo.report.tensorboard import Board
    b = Board()
    b.start(tmp_path, {"step": 0})
    b.record({"step": 4, "event": "alert", "alert": "d_saturated", "action": "warn", "evidence": "acc_real 1.00"})
    b.record({"step": 3, "event": "rollback", "from_step": 5})
    b.close()
    acc = _events(tmp_path)
    texts = acc.Tensors("alerts/text_summary")
    got = {e.step: e.tensor_proto.string_val[0].decode() for e in texts}
    assert "d_saturated" in got[4] and "[warn]" in got[4] and "acc_real 1.00" in got[4]
    assert "rollback" in got[3] and "from_step" in got[3]


def test_tensorboard_without_the_package_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` raises ImportError
    run = tmp_path / "none"
    assert main(["train", "dcgan", *TINY, "--steps", "2", "--set", "train.tensorboard=true", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "genzoo[tensorboard]" in err, err
    assert not run.exists(), "nothing is made before the error"


def test_python_api_records_its_call(tmp_path):
    import genzoo
    run = genzoo.train("dcgan", out=tmp_path / "api", dataset="embedded", steps=2, progress=False,
                       overrides={"model.g_width": 8, "model.d_width": 8, "train.report": False})
    recs = json.loads((run.path / "command.json").read_text())
    assert len(recs) == 1 and recs[0]["argv"] is None
    cmd = recs[0]["command"]
    assert cmd.startswith("genzoo.train('dcgan', out=") and "steps=2" in cmd and "'model.g_width': 8" in cmd
