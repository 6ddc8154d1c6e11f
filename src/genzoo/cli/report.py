"""`genzoo report` and `genzoo compare`: one self-contained HTML page for runs, and their comparison table."""
from __future__ import annotations

import argparse


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of one run or a comparison of several",
                       description="Write one HTML file that needs no network, server or JavaScript: images are "
                                   "inlined, curves are inline SVG. One run: its header (recipe, data, steps, "
                                   "throughput, versions), every logged scalar over steps with alerts and "
                                   "rollbacks marked, the fixed-noise grids over training, metrics.json with its "
                                   "stamps, its figures and the full config. Several runs: the metrics table with "
                                   "the best value per column marked, the config keys that differ, the curves "
                                   "overlaid and the final grids side by side.",
                       epilog="examples:\n  genzoo report runs/dcgan-embedded\n"
                              "  genzoo report runs/a runs/b runs/c --out compare.html",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", metavar="RUN_DIR", nargs="+")
    p.add_argument("--out", help="HTML file (default RUN_DIR/report.html for one run, ./report.html for several)")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from genzoo.report import html
    from genzoo.run import Run

    runs = [Run.open(r) for r in args.runs]
    out = html.write(runs, args.out)
    print(f"wrote {out}")
    return 0


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="print the metrics of several runs as one table (and write .md or .csv)",
                       description="Print one row per run and one column per metric of metrics.json; the best "
                                   "value of a column is starred where every run's stamp (extractor, n, "
                                   "reference) agrees. --out writes the table as Markdown (.md) or CSV (.csv).",
                       epilog="example:\n  genzoo compare runs/dcgan-embedded runs/wgan-gp-embedded --out table.md",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", metavar="RUN_DIR", nargs="+")
    p.add_argument("--out", help="table file: .md (Markdown) or .csv")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from genzoo.report import compare
    from genzoo.run import Run

    runs = [Run.open(r) for r in args.runs]
    t = compare.table(runs)
    print(t.text())
    if args.out:
        print(f"wrote {t.write(args.out)}")
    return 0


def add(sub) -> None:
    _add_report(sub)
    _add_compare(sub)
