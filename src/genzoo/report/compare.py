"""The comparison table of several runs: one row per run, one column per metric of metrics.json.

Each cell keeps its stamp (extractor, sample count, reference split); the best value of a column is marked only
where every run's stamp agrees, since numbers measured differently cannot be ranked.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from genzoo.errors import GenzooError

# Which way is better, by metric name (the part before "[extractor]"). Unknown names are not ranked.
LOWER = {"fid", "kid", "l1", "nll", "rec", "reverse_kl", "modes", "mse", "rec_error", "kl_to_uniform"}
HIGHER = {"is", "precision", "recall", "density", "coverage", "psnr", "ssim", "elbo", "modes_captured",
          "high_quality_fraction", "accuracy"}
STAMP = ("extractor", "n", "reference")


def base_name(metric: str) -> str:
    return metric.split("[", 1)[0]


def direction(metric: str) -> int:
    """-1 lower is better, +1 higher is better, 0 unknown."""
    b = base_name(metric)
    return -1 if b in LOWER else 1 if b in HIGHER else 0


def metric_value(entry) -> float | None:
    """The one number of a metrics.json entry (the mode histogram: its KL to uniform)."""
    if isinstance(entry, (int, float)) and not isinstance(entry, bool):
        return float(entry)
    if not isinstance(entry, dict):
        return None
    for k in ("value", "kl_to_uniform"):
        v = entry.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return None


def stamp(entry) -> str:
    if not isinstance(entry, dict):
        return ""
    parts = [f"{k}={entry[k]}" for k in STAMP if k in entry]
    return ", ".join(parts)


def fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.4g}"
    return f"{v:.3e}"


@dataclass
class Table:
    runs: list[dict]                         # name, path, recipe, dataset, step, family
    columns: list[str]                       # metric names
    cells: list[dict] = field(default_factory=list)   # per run: metric -> (value, stamp)
    best: dict = field(default_factory=dict)          # metric -> index of the best run (or None)
    notes: dict = field(default_factory=dict)         # metric -> why it is not ranked

    def header(self) -> list[str]:
        return ["run", "recipe", "dataset", "step"] + self.columns

    def rows(self, mark: str = "") -> list[list[str]]:
        out = []
        for i, (r, c) in enumerate(zip(self.runs, self.cells)):
            row = [r["name"], r["recipe"], r["dataset"], "" if r["step"] is None else str(r["step"])]
            for m in self.columns:
                v = c.get(m, (None, ""))[0]
                row.append(fmt(v) + (mark if mark and self.best.get(m) == i else ""))
            out.append(row)
        return out

    def text(self) -> str:
        head, rows = self.header(), self.rows(mark=" *")
        w = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(head)]
        line = lambda cells: "  ".join(c.ljust(w[j]) for j, c in enumerate(cells)).rstrip()
        out = [line(head), line(["-" * x for x in w])] + [line(r) for r in rows]
        if self.best:
            out.append("* best of the column (ranked only where the stamps agree)")
        for m, why in self.notes.items():
            out.append(f"{m}: {why}")
        return "\n".join(out)

    def markdown(self) -> str:
        head, rows = self.header(), self.rows(mark=" **best**")
        esc = lambda s: s.replace("|", "\\|")
        out = ["| " + " | ".join(map(esc, head)) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
        if self.notes:
            out.append("")
            out += [f"- {m}: {why}" for m, why in self.notes.items()]
        return "\n".join(out) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.header())
        for r, c in zip(self.runs, self.cells):
            w.writerow([r["name"], r["recipe"], r["dataset"], r["step"]]
                       + ["" if c.get(m, (None,))[0] is None else repr(c[m][0]) for m in self.columns])
        return buf.getvalue()

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix.lower() == ".md":
            text = self.markdown()
        elif path.suffix.lower() == ".csv":
            text = self.csv()
        else:
            raise GenzooError(f"--out {path}: write a table as .md (Markdown) or .csv")
        write_text(path, text)
        return path


def write_text(path: Path, text: str) -> None:
    """Write atomically; a folder that is missing or not writable is a one-line user error."""
    from genzoo.io import atomic_write_bytes
    if path.is_dir():
        raise GenzooError(f"--out {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise GenzooError(f"--out {path}: folder {path.parent} does not exist")
    try:
        atomic_write_bytes(path, text.encode())
    except OSError as e:
        raise GenzooError(f"--out {path}: cannot write ({e.strerror or e})") from None


def run_names(paths: list[Path]) -> list[str]:
    """Short, distinct names: the folder name, or more of the path where two folders share a name."""
    names = [p.name or str(p) for p in paths]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    return names


def table(runs) -> Table:
    """The comparison table of ``runs`` (``Run`` objects): metrics every run reports, and those only some do."""
    names = run_names([r.path for r in runs])
    info, cells, columns = [], [], []
    for name, r in zip(names, runs):
        m = r.metrics or {}
        ms = m.get("metrics", {}) if isinstance(m, dict) else {}
        step = m.get("step") if m else None
        if step is None:
            try:
                step = r.step
            except GenzooError:
                step = None
        info.append({"name": name, "path": str(r.path), "recipe": r.cfg.recipe, "dataset": r.cfg.data.dataset,
                     "step": step, "family": r.kind})
        c = {}
        for k, e in ms.items():
            v = metric_value(e)
            if v is None:
                continue
            c[k] = (v, stamp(e))
            if k not in columns:
                columns.append(k)
        cells.append(c)
    t = Table(info, columns, cells)
    if len(runs) > 1:
        for k in columns:
            have = [(i, c[k]) for i, c in enumerate(cells) if k in c]
            d = direction(k)
            if len(have) < 2 or d == 0:
                continue
            if len({s for _, (_, s) in have}) > 1:
                t.notes[k] = "not ranked: the runs measured it differently (" + \
                    "; ".join(f"{names[i]}: {s}" for i, (_, s) in have) + ")"
                continue
            t.best[k] = max(have, key=lambda iv: d * iv[1][0])[0]
    return t
