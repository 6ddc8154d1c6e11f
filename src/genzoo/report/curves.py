"""The report's curves: logged scalars grouped into panels, drawn with matplotlib as inline SVG, alerts and
rollbacks as dashed vertical lines, several runs overlaid in one colour each."""
from __future__ import annotations

import io


GROUPS = [
    ("Losses", lambda k: k.startswith("loss")),
    ("ELBO, reconstruction and KL", lambda k: k in ("elbo", "rec", "kl", "iwae", "beta")),
    ("L1 (pix2pix)", lambda k: k == "l1"),
    ("Wasserstein estimate", lambda k: "wasserstein" in k),
    ("D outputs", lambda k: k in ("d_real", "d_fake")),
    ("Gradient norms", lambda k: "grad_norm" in k or k == "gp"),
    ("Learning rates", lambda k: k.startswith("lr")),
    ("Throughput (images/s)", lambda k: k == "img_per_s"),
    ("Watcher signals", lambda k: True),
]
EVENT_COLORS = {"rollback": "tab:green", "d_saturated": "tab:red", "vanishing_g_gradient": "tab:purple",
                "mode_collapse": "tab:orange", "divergence": "black", "oscillation": "tab:brown"}
RUN_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
              "tab:gray", "tab:olive", "tab:cyan"]
def _svg(fig) -> str:
    import matplotlib.pyplot as plt
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    s = buf.getvalue()
    return s[s.index("<svg"):]  # drop the XML prologue and doctype: the SVG sits inside HTML


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "genzoo", "font.size": 8})
    return plt


def group_keys(keys: list[str]) -> list[tuple[str, list[str]]]:
    """Scalar names grouped for plotting, in the page's order (only groups that have a key)."""
    out, taken = [], set()
    for title, test in GROUPS:
        ks = [k for k in keys if k not in taken and test(k)]
        taken.update(ks)
        if ks:
            out.append((title, ks))
    return out


def scalar_keys(rows: list[dict]) -> list[str]:
    keys = []
    for r in rows:
        for k, v in r.items():
            if k != "step" and k not in keys and (v is None or isinstance(v, (int, float))):
                keys.append(k)
    return keys


def curves(series: list[tuple[str, list[dict], list[dict]]]) -> list[dict]:
    """One SVG per group of scalars. ``series``: (run name, log rows, events) per run; one run plots each key,
    several overlay each key per run. Alerts and rollbacks are vertical dashed lines."""
    keys = []
    for _, rows, _ in series:
        keys += [k for k in scalar_keys(rows) if k not in keys]
    if not keys:
        return []
    plt = _pyplot()
    several = len(series) > 1
    figs = []
    for title, ks in group_keys(keys):
        fig, ax = plt.subplots(figsize=(6.4, 2.6), dpi=100)
        for ri, (name, rows, events) in enumerate(series):
            for ki, k in enumerate(ks):
                pts = [(r["step"], r[k]) for r in rows if isinstance(r.get(k), (int, float)) and "step" in r]
                if not pts:
                    continue
                xs, ys = zip(*pts)
                style = dict(color=RUN_COLORS[ri % 10], ls=("-", "--", ":", "-.")[ki % 4]) if several else {}
                label = f"{name}: {k}" if several else k
                ax.plot(xs, ys, lw=1.2, label=label, marker="." if len(xs) < 20 else None, **style)
        marked = set()
        for ri, (name, rows, events) in enumerate(series):
            for e in events:
                what = e.get("alert") or e.get("event")
                label = None if what in marked else what
                marked.add(what)
                ax.axvline(e.get("step", 0), color=EVENT_COLORS.get(what, "tab:red"), ls="--", lw=1, label=label)
        ymin, ymax = ax.get_ylim()
        if ks and all(k in ("img_per_s",) or "grad_norm" in k for k in ks) and ymin > 0 and ymax / ymin > 100:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        figs.append({"title": title, "names": ks, "svg": _svg(fig)})
    return figs
