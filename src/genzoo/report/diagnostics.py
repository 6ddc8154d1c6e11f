"""`genzoo diagnose`: a finished run's alerts as text and its watcher signals as a figure."""
from __future__ import annotations

import math

from genzoo.training.watch import ALERTS, DUP_MAX, ENTROPY_MIN, OSC_SPREAD


def summarise(rows: list[dict], events: list[dict]) -> str:
    """A text summary: one line per alert name (count, first step, latest evidence), rollbacks."""
    last = rows[-1]["step"] if rows else 0
    alerts = [e for e in events if e["event"] == "alert"]
    out = [f"{len(rows)} logged steps up to step {last}; {len(alerts)} alert(s)"]
    for name in ALERTS:
        hits = [e for e in alerts if e["alert"] == name]
        if hits:
            first = hits[0]
            out.append(f"  {name:<21} x{len(hits)}  first at step {first['step']} [{first['action']}]: "
                       f"{first['evidence']}")
            out.append(f"  {'':<21}      advice: {first['advice']}")
        else:
            out.append(f"  {name:<21} none")
    for e in events:
        if e["event"] == "rollback":
            out.append(f"  rollback from step {e['from_step']} to {e['step']} ({e['checkpoint']}); "
                       + ", ".join(f"{k} = {v:.3g}" for k, v in e.items() if k.startswith("lr_")))
    return "\n".join(out)


_PANELS = (("losses", ("loss_d", "loss_g"), False),  # (title, signals, log scale); dotted: alert levels
           ("D outputs and accuracy", ("d_real", "d_fake", "acc_real", "acc_fake"), False),
           ("gradient norms", ("grad_norm_g", "grad_norm_d"), True),
           ("fixed-batch diversity", ("diversity", "dup_fraction", "class_entropy"), False),
           ("loss oscillation (spread / noise)", ("osc",), False),
           ("critic / penalty", ("wasserstein", "gp"), False))


def plot(rows: list[dict], events: list[dict], path, title: str = "") -> None:
    """diagnostics.png: the watcher signals over steps, with alerts as vertical lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [p for p in _PANELS if any(k in r for r in rows for k in p[1])]
    cols = 3 if len(panels) > 4 else 2
    nrow = max(1, math.ceil(len(panels) / cols))
    fig, axes = plt.subplots(nrow, cols, figsize=(5 * cols, 3.2 * nrow), squeeze=False)
    colors = {n: c for n, c in zip(ALERTS, ("tab:red", "tab:purple", "tab:orange", "black", "tab:brown"))}
    alerts = [e for e in events if e["event"] == "alert"]
    for ax, (name, keys, logy) in zip(axes.flat, panels):
        for k in keys:
            pts = [(r["step"], r[k]) for r in rows if r.get(k) is not None]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, lw=0.9, label=k)
        if logy:
            ax.set_yscale("log")
        for k, level in (("osc", OSC_SPREAD), ("class_entropy", ENTROPY_MIN), ("dup_fraction", DUP_MAX)):
            if k in keys and any(k in r for r in rows):
                ax.axhline(level, color="gray", ls=":", lw=1)
        for e in alerts:
            ax.axvline(e["step"], color=colors[e["alert"]], ls="--", lw=1)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=7, loc="best")
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    seen = []
    for e in alerts:
        if e["alert"] not in seen:
            seen.append(e["alert"])
    if seen:
        handles = [plt.Line2D([], [], color=colors[n], ls="--") for n in seen]
        fig.legend(handles, [f"alert: {n}" for n in seen], loc="lower center", ncol=len(seen), fontsize=8)
    fig.suptitle(title or "genzoo diagnose", fontsize=11)
    fig.tight_layout(rect=(0, 0.05 if seen else 0, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)
