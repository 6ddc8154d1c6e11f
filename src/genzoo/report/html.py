"""`genzoo report`: one self-contained HTML page for one run or several.

Everything is inside the file: images as base64 data URIs, curves as inline SVG drawn by matplotlib. The page
needs no network, no server and no JavaScript. The page is rendered from ``templates/report.html.j2``.
"""
from __future__ import annotations

import base64
import json
import re
import shlex
import time
from pathlib import Path

from genzoo.errors import GenzooError
from genzoo.report import command, compare, floor_view
from genzoo.report.command import git_commit
from genzoo.report.curves import curves

# Curves: (title, test on a key), in the order the page shows them; the first group that claims a key wins.
FILMSTRIP_MAX = 16
PICTURES = [("modes.png", "Class histogram of samples (modes.png)"),
            ("toy.png", "Samples on the 2-D mixture (toy.png)"),
            ("reconstructions.png", "Reconstructions (reconstructions.png)"),
            ("diagnostics.png", "Watcher signals (diagnostics.png)")]


# -- small pieces -----------------------------------------------------------------------------------
def data_uri(path: Path) -> str:
    mime = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
    return f"data:{mime.get(path.suffix.lower(), 'application/octet-stream')};base64," + \
        base64.b64encode(path.read_bytes()).decode()


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _steps_of(path: Path) -> int:
    m = re.search(r"(\d+)", path.stem)
    return int(m.group(1)) if m else 0


# -- one run ------------------------------------------------------------------------------------------
def summary(run) -> dict:
    """Everything the page shows about one run, with a list of what is missing."""
    p, cfg = run.path, run.cfg
    rows, events, ckpts, meta, metrics, samples, missing = _contents(run)
    pictures = [{"title": t, "src": data_uri(p / f)} for f, t in PICTURES if (p / f).is_file()]
    if run.kind == "pix2pix" and (p / "samples.png").is_file():
        pictures.append({"title": "Translation triplets (samples.png)", "src": data_uri(p / "samples.png")})
    return {
        "name": p.name, "path": str(p), "kind": run.kind, "header": _header(run, meta, rows, ckpts),
        "missing": missing, "rows": rows, "events": [_event(e) for e in events],
        "filmstrip": [{"step": _steps_of(s), "src": data_uri(s)} for s in _filmstrip(samples)],
        "final": {"step": _steps_of(samples[-1]), "src": data_uri(samples[-1])} if samples else None,
        "metrics": _metric_rows(metrics, cfg.data.dataset), "floor_note": floor_view.note(cfg.data.dataset),
        "metrics_head": {k: v for k, v in (metrics or {}).items() if k != "metrics"},
        "pictures": pictures, "config": cfg.to_dict(),
        "config_yaml": (p / "config.yaml").read_text() if (p / "config.yaml").is_file() else "",
    }


def _contents(run):
    """What the run directory holds (log rows, events, checkpoints, the latest one's meta, metrics, sample
    grids), and a line for each thing that is missing."""
    p, missing = run.path, []
    try:
        rows, events = run.log, run.events
    except GenzooError:
        rows, events = [], []
        missing.append("log.jsonl (no training steps logged yet)")
    if not rows and not missing:
        missing.append("logged steps in log.jsonl (the run has not reached its first log line)")
    ckpts, meta = run.checkpoints, {}
    if ckpts:
        try:
            meta = json.loads(ckpts[-1].read_text())
        except (OSError, ValueError):
            missing.append(f"a readable checkpoint ({ckpts[-1].name} is damaged)")
    else:
        missing.append("checkpoints (none saved yet: the model cannot be sampled or evaluated)")
    try:
        metrics = run.metrics
    except GenzooError as e:
        metrics = None
        missing.append(f"metrics ({e})")
    else:
        if metrics is None:
            missing.append(f"metrics.json (run `genzoo evaluate {p}` to measure the model)")
    samples = sorted((p / "samples").glob("step_*.png"), key=_steps_of) if (p / "samples").is_dir() else []
    if not samples:
        missing.append("sample grids (samples/step_*.png)")
    return rows, events, ckpts, meta, metrics, samples, missing


def _header(run, meta: dict, rows: list[dict], ckpts: list[Path]) -> list[tuple[str, object]]:
    p, cfg = run.path, run.cfg
    step = meta.get("step") if meta else None
    last_logged = rows[-1]["step"] if rows else None
    rates = [r["img_per_s"] for r in rows if isinstance(r.get("img_per_s"), (int, float))]
    wall = None
    times = [f.stat().st_mtime for f in [p / "log.jsonl", *ckpts] if f.exists()]
    if (p / "config.yaml").exists() and times:
        wall = max(times) - (p / "config.yaml").stat().st_mtime
    return [
        ("recipe", cfg.recipe + (f" — {cfg.description}" if cfg.description else "")),
        ("family", run.kind),
        ("dataset", cfg.data.dataset + (f" (task {cfg.data.task})" if cfg.data.task else "")),
        ("steps", f"{step if step is not None else '—'} saved, {last_logged if last_logged is not None else '—'} "
                  f"logged, of {cfg.train.steps}"),
        ("batch size", cfg.train.batch_size),
        ("wall time", f"≈ {_duration(wall)} (config.yaml to the last write; includes pauses between resumes)"
         if wall is not None and wall >= 0 else "not derivable"),
        ("images/s", f"{sum(rates) / len(rates):.0f} mean, {rates[-1]:.0f} last" if rates else "not logged"),
        *_made(command.read(p), cfg, meta, p),
        ("run folder", str(p.resolve())),
    ]


def _made(sessions: list[dict], cfg, meta: dict, p: Path) -> list[tuple[str, object]]:
    """How the run was made: device and precision as resolved, versions, commit, and one command line per
    session (the first `genzoo train` and each resume) from RUN/command.json; older runs: what can be derived."""
    import torch
    from genzoo import __version__

    configured = f"{cfg.train.device} / {cfg.train.precision}"
    if not sessions:
        return [("device / precision", f"{configured} (as configured)"),
                ("genzoo", f"{meta.get('genzoo_version', '?')} (trained), {__version__} (report)"),
                ("torch", f"{torch.__version__} (report)"),
                ("git commit", git_commit(p) or "not in a git checkout"),
                ("command line", "not recorded by the run (no command.json)")]
    last = sessions[-1]

    def seen(key):
        return ", ".join(dict.fromkeys(str(s[key]) for s in sessions if s.get(key))) or "?"
    rows = [("device / precision", f"{last.get('device', '?')} / {last.get('precision', '?')} (resolved; "
                                   f"configured {configured})"),
            ("genzoo", f"{seen('genzoo')} (trained), {__version__} (report)"),
            ("torch", f"{seen('torch')} (trained), {torch.__version__} (report)"),
            ("git commit", seen("git_commit") if any(s.get("git_commit") for s in sessions)
             else "genzoo was not run from a git checkout")]
    for i, s in enumerate(sessions):
        cmd = shlex.join(s["argv"]) if isinstance(s.get("argv"), list) else s.get("command") or "?"
        procs = f", {s['world_size']} processes" if isinstance(s.get("world_size"), int) and s["world_size"] > 1 else ""
        rows.append(("command line" if i == 0 else f"resume {i}",
                     f"{cmd}   ({s.get('time', '?')}, from step {s.get('start_step', 0)}, "
                     f"{s.get('device', '?')} / {s.get('precision', '?')}{procs})"))
    return rows


def _filmstrip(samples: list[Path]) -> list[Path]:
    if len(samples) <= FILMSTRIP_MAX:
        return samples
    idx = sorted({round(i * (len(samples) - 1) / (FILMSTRIP_MAX - 1)) for i in range(FILMSTRIP_MAX)})
    return [samples[i] for i in idx]  # evenly spaced, always keeping the first and the last


def _metric_rows(metrics: dict | None, dataset: str) -> list[dict]:
    from genzoo.evaluation import floors
    floor = (floors.load(dataset) or {}).get("metrics", {})
    out = []
    for k, e in ((metrics or {}).get("metrics", {}) or {}).items():
        v = compare.metric_value(e)
        extra = {}
        if isinstance(e, dict):
            extra = {kk: vv for kk, vv in e.items() if kk not in ("value", "genzoo_version", *compare.STAMP)
                     and not isinstance(vv, (list, dict))}
        shown = compare.fmt(v)
        if isinstance(e, list) and e and all(isinstance(x, (int, float)) for x in e):  # e.g. kl_channels
            shown = " ".join(compare.fmt(float(x)) for x in e)
        out.append({"name": k, "value": v, "shown": shown, "raw": "" if v is None else repr(v),
                    "stamp": compare.stamp(e),
                    "extra": ", ".join(f"{a}={compare.fmt(b) if isinstance(b, float) else b}" for a, b in extra.items()),
                    **floor_view.cell(e, floor.get(k))})
    return out


def _event(e: dict) -> dict:
    kind = e.get("event", "?")
    name = e.get("alert", kind)
    detail = e.get("evidence") or (f"rolled back from step {e['from_step']}" if "from_step" in e else "")
    return {"step": e.get("step"), "kind": kind, "name": name, "action": e.get("action", ""),
            "detail": str(detail), "advice": e.get("advice", "")}


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h {s % 3600 // 60:02d}m {s % 60:02d}s" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"


# -- the page ---------------------------------------------------------------------------------------------
def _env():
    import jinja2
    return jinja2.Environment(loader=jinja2.PackageLoader("genzoo.report", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                              lstrip_blocks=True)


def render(runs) -> str:
    """The HTML page for one ``Run`` or several."""
    from genzoo import __version__
    if not runs:
        raise GenzooError("give at least one run directory")
    infos = [summary(r) for r in runs]
    names = compare.run_names([r.path for r in runs])
    for i, n in zip(infos, names):
        i["name"] = n
    ctx = {"runs": infos, "several": len(runs) > 1, "version": __version__,
           "made": time.strftime("%Y-%m-%d %H:%M:%S")}
    if len(runs) == 1:
        ctx["title"] = f"genzoo report: {infos[0]['name']}"
        ctx["curves"] = curves([(infos[0]["name"], infos[0]["rows"], infos[0]["events"])])
    else:
        ctx["title"] = f"genzoo report: {len(runs)} runs"
        ctx["curves"] = curves([(i["name"], i["rows"], i["events"]) for i in infos])
        t = compare.table(runs)
        ctx["table"] = {"runs": t.runs, "columns": t.columns, "best": t.best, "notes": t.notes,
                        "cells": [{m: {"shown": compare.fmt(v), "raw": repr(v), "stamp": s}
                                   for m, (v, s) in c.items()} for c in t.cells]}
        ctx["floor_row"] = floor_view.row(runs, t.columns)
        flats = [flatten(i["config"]) for i in infos]
        keys = []
        for f in flats:
            keys += [k for k in f if k not in keys]
        missing = object()
        diff = [{"key": k, "vals": ["—" if f.get(k, missing) is missing else _show(f[k]) for f in flats]}
                for k in keys if len({json.dumps(f.get(k, "\x00missing"), sort_keys=True, default=str)
                                      for f in flats}) > 1]
        ctx["diff"] = diff
        ctx["families"] = sorted({i["kind"] for i in infos})
    return _env().get_template("report.html.j2").render(**ctx)


def _show(v) -> str:
    return json.dumps(v) if not isinstance(v, str) else (v if v else "''")


def write(runs, out: str | Path | None = None) -> Path:
    """Write the report of ``runs`` (``Run`` objects or run folders); returns the file written.

    Default ``out``: RUN/report.html for one run, ./report.html for several."""
    from genzoo.run import Run
    runs = [r if isinstance(r, Run) else Run.open(r) for r in runs]
    if out is None:
        out = runs[0].path / "report.html" if len(runs) == 1 else Path("report.html")
    out = Path(out)
    text = render(runs)
    compare.write_text(out, text)
    return out


def write_quietly(run_dir: Path) -> Path | None:
    """The training loop's call: write RUN/report.html; on any failure warn and go on (never stop training)."""
    import warnings
    try:
        return write([run_dir])
    except Exception as e:  # noqa: BLE001 - a report must never stop a training run
        warnings.warn(f"report.html not written: {e}")
        return None
