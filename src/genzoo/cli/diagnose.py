"""`genzoo diagnose`: a finished run's training alerts and watcher signals."""
from __future__ import annotations

import argparse
from pathlib import Path



def _add_diagnose(sub) -> None:
    p = sub.add_parser("diagnose", help="summarise a run's training alerts and plot its signals",
                       description="Read RUN_DIR/log.jsonl, print the alerts raised while training "
                                   "(d_saturated, vanishing_g_gradient, mode_collapse, divergence, oscillation) "
                                   "with their evidence and advice, and plot the watcher signals to "
                                   "diagnostics.png. Alerts are configured at training time with --set "
                                   "watch.<name>=warn|stop|rollback.",
                       epilog="example:\n  genzoo diagnose runs/dcgan-embedded",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--out", help="figure path (default RUN_DIR/diagnostics.png)")


def cmd_diagnose(args) -> int:
    from genzoo.errors import GenzooError
    from genzoo.run import Run
    from genzoo.report import diagnostics

    run = Run.open(args.run)
    rows, events = run.log, run.events
    if not rows:
        raise GenzooError(f"{run.path}/log.jsonl holds no training steps yet")
    print(diagnostics.summarise(rows, events))
    out = Path(args.out) if args.out else run.path / "diagnostics.png"
    diagnostics.plot(rows, events, out, title=f"genzoo diagnose {run.path.name}")
    print(f"wrote {out}")
    return 0


def add(sub) -> None:
    _add_diagnose(sub)
    sub.choices["diagnose"].set_defaults(func=cmd_diagnose)
