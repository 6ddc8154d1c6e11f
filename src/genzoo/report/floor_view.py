"""The real-data floor in the report: beside each metric of one run, and as a row of the comparison table.

The floors are the results `genzoo evaluate --real DATASET` keeps (genzoo.evaluation.floors)."""
from __future__ import annotations

from genzoo.evaluation import floors
from genzoo.report import compare


def cell(e, fe) -> dict:
    """The real-data floor of one metric: the run's own (real_floor) or the kept `genzoo evaluate --real` one."""
    own = (e.get("real_floor") or e.get("floor")) if isinstance(e, dict) else None
    if own is not None:
        return {"floor": compare.fmt(own) if isinstance(own, float) else own, "floor_raw": repr(own),
                "floor_stamp": "recorded in metrics.json"}
    fv = compare.metric_value(fe) if fe is not None else None
    if fv is None:
        return {"floor": None, "floor_raw": "", "floor_stamp": ""}
    differs = isinstance(e, dict) and isinstance(fe, dict) and any(
        e.get(s) != fe.get(s) for s in compare.STAMP if s in e or s in fe)
    return {"floor": compare.fmt(fv) + (" †" if differs else ""), "floor_raw": repr(fv),
            "floor_stamp": compare.stamp(fe) + ("; † stamp differs from the run's" if differs else "")}


def note(dataset: str) -> dict:
    """The line under the metrics table: where the floor comes from, or the command that makes it."""
    doc, path = floors.load(dataset), floors.floor_path(dataset)
    if doc is None:
        return {"lead": f"No real-data floor for {dataset} yet: run",
                "cmd": f"genzoo evaluate --real {dataset} --out DIR",
                "tail": f"once (the result is kept in {path} and shown here from then on)."}
    return {"lead": f"Real-data floor: {doc.get('real', dataset + ':train')} images measured against the test split "
                    "exactly as a model is, by", "cmd": f"genzoo evaluate --real {dataset}",
            "tail": f"(genzoo {doc.get('genzoo_version', '?')}), read from {path}; † marks a floor whose stamp "
                    "(extractor, n, reference) differs from the run's."}


def row(runs, columns: list[str]) -> dict | None:
    """The comparison table's real-data floor row, where every run shares one dataset with a kept floor."""
    specs = {r.cfg.data.dataset for r in runs}
    doc = floors.load(next(iter(specs))) if len(specs) == 1 else None
    if doc is None:
        return None
    vals = {m: compare.metric_value(doc["metrics"].get(m)) for m in columns}
    return {"dataset": next(iter(specs)), "cells": {m: {"shown": compare.fmt(v), "raw": repr(v),
                                                        "stamp": compare.stamp(doc["metrics"].get(m))}
                                                    for m, v in vals.items() if v is not None}}
