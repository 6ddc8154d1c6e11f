"""`genzoo report` / `genzoo compare` and the report a training run writes: tiny GAN, VAE and pix2pix runs,
the HTML parsed with html.parser, and a headless Chromium render where /usr/bin/chromium exists."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genzoo.cli import main

TINY = ["--dataset", "embedded", "--steps", "6", "--quiet", "--set", "train.log_every=1", "--set",
        "train.ckpt_every=3", "--set", "train.sample_every=2"]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    os.environ.setdefault("GENZOO_OFFLINE", "1")
    root = tmp_path_factory.mktemp("report_runs")
    gan, vae, p2p = root / "gan", root / "vae", root / "p2p"
    assert main(["train", "dcgan", *TINY, "--out", str(gan), "--set", "model.g_width=8", "--set",
                 "model.d_width=8"]) == 0
    assert main(["evaluate", str(gan), "--n", "200", "--metrics", "fid,pr,modes"]) == 0
    assert main(["train", "vae", *TINY, "--out", str(vae)]) == 0
    assert main(["train", "pix2pix", "--task", "edges", *TINY, "--out", str(p2p), "--set", "model.g_width=8",
                 "--set", "model.d_width=8"]) == 0
    return {"gan": gan, "vae": vae, "p2p": p2p}


class Page(HTMLParser):
    """The parts of a report the tests look at: tags with their attributes, and the text of some."""

    def __init__(self, text: str):
        super().__init__()
        self.tags, self.text, self._stack = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("img", "meta", "br", "input", "link", "path", "use", "rect", "line"):
            self._stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag=None, **attrs):
        return [a for t, a in self.tags if (tag is None or t == tag)
                and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def all_text(self) -> str:
        return " ".join(self.text)


def _page(path: Path) -> Page:
    return Page(path.read_text())


def _no_external_refs(page: Page):
    for tag, a in page.tags:
        for k in ("src", "href"):
            v = a.get(k)
            if v is not None and not (v.startswith("data:") or v.startswith("#")):
                # SVG internal references from matplotlib are fragment links; everything else is inlined
                pytest.fail(f"<{tag} {k}={v[:60]!r}> leaves the file")
    assert not page.find("script"), "the report needs no JavaScript"
    assert not page.find("link")


@pytest.mark.parametrize("kind", ["gan", "vae", "p2p"])
def test_one_run_report(runs, tmp_path, kind, capsys):
    run = runs[kind]
    assert (run / "report.html").is_file(), "train.report (default on) writes report.html"
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    assert f"wrote {run / 'report.html'}" in capsys.readouterr().out
    page = _page(run / "report.html")
    _no_external_refs(page)
    imgs = page.find("img")
    assert imgs and all(a["src"].startswith("data:image/") for a in imgs)
    assert page.find("img", **{"class": "final"})
    curves = page.find("figure", **{"class": "curve"})
    groups = {c["data-group"] for c in curves}
    want = {"gan": {"Losses", "D outputs"}, "vae": {"ELBO, reconstruction and KL"},
            "p2p": {"Losses", "L1 (pix2pix)"}}[kind]
    assert want <= groups, groups
    assert len(page.find("svg")) == len(curves)
    text = page.all_text()
    assert "recipe" in text and "torch" in text and "images/s" in text
    if kind != "gan":
        assert "missing: metrics.json" in text


def test_metrics_and_alerts_are_marked(runs, tmp_path):
    run = tmp_path / "gan"
    shutil.copytree(runs["gan"], run)
    events = [{"step": 4, "event": "alert", "alert": "d_saturated", "onset": 2, "evidence": "acc_real 1.00",
               "advice": "lower lr_d", "action": "warn"},
              {"step": 3, "event": "rollback", "from_step": 5, "lr_g": 2e-5, "lr_d": 2e-5}]
    with open(run / "log.jsonl", "a") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    page = _page(tmp_path / "r.html")
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    assert metrics
    for name, entry in metrics.items():
        cells = [a for a in page.find("td") if a.get("data-value") is not None]
        rows = page.find("tr", data_metric=name)
        assert rows, f"metric {name} is not in the report"
        value = entry.get("value", entry.get("kl_to_uniform"))
        assert any(float(a["data-value"]) == pytest.approx(value) for a in cells
                   if a.get("data-value")), f"{name}={value} not shown"
    marked = page.find("li")
    for e in events:
        name = e.get("alert", e["event"])
        assert any(a.get("data-step") == str(e["step"]) and a.get("data-name") == name for a in marked), e
    assert "d_saturated" in page.all_text()  # the curve legend names the alert's vertical line


def test_three_run_comparison(runs, tmp_path, capsys):
    gan2 = tmp_path / "gan2"
    shutil.copytree(runs["gan"], gan2)
    cfg = (gan2 / "config.yaml").read_text().replace("lr_g: 0.0002", "lr_g: 0.0001")
    (gan2 / "config.yaml").write_text(cfg)
    m = json.loads((gan2 / "metrics.json").read_text())
    fid = next(k for k in m["metrics"] if k.startswith("fid"))
    m["metrics"][fid]["value"] = m["metrics"][fid]["value"] / 2  # gan2 is now the best on FID
    (gan2 / "metrics.json").write_text(json.dumps(m))
    out = tmp_path / "three.html"
    assert main(["report", str(runs["gan"]), str(gan2), str(runs["vae"]), "--out", str(out)]) == 0
    page = _page(out)
    _no_external_refs(page)
    # the config diff holds exactly the keys that differ
    from genzoo.report.html import flatten
    from genzoo.run import Run
    flats = [flatten(Run.open(p).cfg.to_dict()) for p in (runs["gan"], gan2, runs["vae"])]
    differ = {k for k in set().union(*flats) if len({json.dumps(f.get(k), default=str) for f in flats}) > 1}
    shown = {a["data-key"] for a in page.find("tr") if "data-key" in a}
    assert shown == differ and "optim.lr_g" in shown and "train.steps" not in shown
    best = [a for a in page.find("td") if "best" in a.get("class", "").split()]
    assert any(a.get("data-metric") == fid for a in best)
    best_row = [a for a in page.find("td", data_metric=fid) if "best" in a.get("class", "")]
    assert float(best_row[0]["data-value"]) == pytest.approx(m["metrics"][fid]["value"])
    assert len(page.find("img", **{"class": "final"})) == 3
    assert "different kinds" in page.all_text()
    # the same comparison in the terminal, as Markdown and as CSV
    for suffix in (".md", ".csv"):
        assert main(["compare", str(runs["gan"]), str(gan2), str(runs["vae"]), "--out",
                     str(tmp_path / f"t{suffix}")]) == 0
    printed = capsys.readouterr().out
    assert fid in printed and "*" in printed
    md = (tmp_path / "t.md").read_text().splitlines()
    assert md[0].startswith("| run |") and len([ln for ln in md if ln.startswith("| ")]) == 4
    import csv
    rows = list(csv.reader((tmp_path / "t.csv").open()))
    assert rows[0][:4] == ["run", "recipe", "dataset", "step"] and len(rows) == 4
    assert float(rows[2][rows[0].index(fid)]) == pytest.approx(m["metrics"][fid]["value"])


def test_bad_input(runs, tmp_path, capsys):
    not_run = tmp_path / "empty"
    not_run.mkdir()
    assert main(["report", str(not_run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("genzoo: error:") and len(err.strip().splitlines()) == 1
    assert main(["compare", str(tmp_path / "nope")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    # a run without checkpoints or metrics: the report says so and still shows the rest
    bare = tmp_path / "bare"
    shutil.copytree(runs["vae"], bare)
    shutil.rmtree(bare / "checkpoints")
    (bare / "report.html").unlink()
    assert main(["report", str(bare)]) == 0
    text = _page(bare / "report.html").all_text()
    assert "missing: checkpoints" in text and "missing: metrics.json" in text
    assert _page(bare / "report.html").find("figure", **{"class": "curve"})
    # an --out that cannot be written
    for out in (tmp_path / "no" / "such" / "r.html", tmp_path):
        assert main(["report", str(runs["gan"]), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("genzoo: error: --out") and len(err.strip().splitlines()) == 1
    assert main(["compare", str(runs["gan"]), "--out", str(tmp_path / "t.txt")]) == 2


def test_report_off_and_failure_never_stop_training(tmp_path, monkeypatch):
    off = tmp_path / "off"
    assert main(["train", "dcgan", *TINY[:3], "2", "--quiet", "--out", str(off), "--set", "train.report=false",
                 "--set", "model.g_width=8", "--set", "model.d_width=8"]) == 0
    assert not (off / "report.html").exists()
    from genzoo.report import html

    def boom(*a, **k):
        raise RuntimeError("template exploded")
    monkeypatch.setattr(html, "render", boom)
    on = tmp_path / "on"
    with pytest.warns(UserWarning, match="report.html not written"):
        assert main(["train", "dcgan", *TINY[:3], "2", "--quiet", "--out", str(on), "--set", "model.g_width=8",
                     "--set", "model.d_width=8"]) == 0
    assert (on / "checkpoints").is_dir() and not (on / "report.html").exists()


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason="headless browser test needs /usr/bin/chromium (apt-get install chromium; .ci/run does)")
@pytest.mark.parametrize("which", ["one", "three"])
def test_report_renders_in_chromium(runs, tmp_path, which):
    if which == "one":
        page = runs["gan"] / "report.html"
        assert main(["report", str(runs["gan"])]) == 0
    else:
        page = tmp_path / "three.html"
        assert main(["report", str(runs["gan"]), str(runs["vae"]), str(runs["p2p"]), "--out", str(page)]) == 0
    shot = tmp_path / "shot.png"
    r = _chromium([f"--screenshot={shot}", "--window-size=1200,3000", page.resolve().as_uri()], tmp_path)
    assert shot.is_file(), r.stderr[-2000:]
    px = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert px.shape == (3000, 1200) and px.std() > 10, "the screenshot is blank"
    assert (px < 128).mean() > 0.01, "almost nothing dark is drawn: no text or figures"
    console = [ln for ln in r.stderr.splitlines() if "CONSOLE" in ln or "net::ERR" in ln]
    assert not console, console
    dom = _chromium(["--dump-dom", page.resolve().as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = Page(dom.stdout)
    assert rendered.find("img", **{"class": "final"}) and len(rendered.find("svg")) >= 2
    _figures_have_size(rendered)
    keep = os.environ.get("GENZOO_REPORT_SCREENSHOT" if which == "one" else "GENZOO_REPORT_SCREENSHOT_COMPARE")
    if keep:
        shutil.copy(shot, keep)


def _figures_have_size(page: Page):
    """Every figure of the DOM Chromium rendered has a size: each <img> is a data URI that decodes to an image
    Pillow reads with non-zero width and height; each <svg> declares a positive width and height."""
    import base64
    import io
    import re
    imgs, svgs = page.find("img"), page.find("svg")
    assert imgs and svgs
    for a in imgs:
        head, _, data = a["src"].partition(",")
        assert head in ("data:image/png;base64", "data:image/gif;base64"), head[:40]
        im = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
        im.load()
        assert im.width > 0 and im.height > 0, a.get("alt")
    for a in svgs:
        for k in ("width", "height"):
            m = re.match(r"\s*([0-9.]+)", a.get(k, ""))
            assert m and float(m.group(1)) > 0, f"<svg> without a {k}: {a}"


def test_real_data_floor_beside_metrics(runs, tmp_path, monkeypatch):
    """Without a kept floor the metrics table says how to get one; after `genzoo evaluate --real` (which still
    writes its --out) the floor column shows the kept values."""
    from genzoo.evaluation import floors
    monkeypatch.setattr(floors, "floor_path", lambda spec: tmp_path / "cache" / "floors" / f"{spec}.json")
    run = tmp_path / "gan"
    shutil.copytree(runs["gan"], run)
    assert main(["report", str(run)]) == 0
    page = _page(run / "report.html")
    assert "No real-data floor for embedded yet" in page.all_text()
    assert "genzoo evaluate --real embedded --out DIR" in page.all_text()
    assert all(a.get("data-floor") == "" for a in page.find("td", **{"class": "num floor"}))
    (tmp_path / "real").mkdir()  # evaluate_real writes modes.png before it creates --out
    assert main(["evaluate", "--real", "embedded", "--n", "200", "--metrics", "fid,pr,modes", "--out",
                 str(tmp_path / "real")]) == 0
    assert (tmp_path / "real" / "metrics.json").is_file()
    kept = json.loads((tmp_path / "cache" / "floors" / "embedded.json").read_text())
    assert kept == json.loads((tmp_path / "real" / "metrics.json").read_text())
    assert main(["report", str(run)]) == 0
    page = _page(run / "report.html")
    assert "Real-data floor:" in page.all_text()
    shown = {}
    for tr in page.find("tr"):
        if "data-metric" in tr:
            shown[tr["data-metric"]] = None
    cells = page.find("td", **{"class": "num floor"})
    assert len(cells) == len(shown)
    from genzoo.report.compare import metric_value
    for (name, _), cell in zip(shown.items(), cells):
        want = metric_value(kept["metrics"].get(name))
        if want is None:
            assert cell["data-floor"] == ""
        else:
            assert float(cell["data-floor"]) == pytest.approx(want), name
    assert any(c["data-floor"] for c in cells)
    # the comparison table of runs on one dataset gets a floor row
    assert main(["report", str(run), str(runs["vae"]), "--out", str(tmp_path / "two.html")]) == 0
    row = [a for a in _page(tmp_path / "two.html").find("td", **{"class": "num floor"}) if a.get("data-floor")]
    fid = next(k for k in kept["metrics"] if k.startswith("fid"))
    assert any(float(a["data-floor"]) == pytest.approx(metric_value(kept["metrics"][fid])) for a in row)


def test_a_metric_that_is_a_list_is_shown_in_the_report():
    """Stacked MNIST's kl_channels is one number per channel: the page shows all three, not a dash."""
    from genzoo.report.html import _metric_rows
    rows = {r["name"]: r for r in _metric_rows({"metrics": {"kl_channels": [0.5, 0.25, 0.125], "modes": 7}},
                                               "stacked-mnist")}
    assert rows["kl_channels"]["shown"].split() == ["0.5", "0.25", "0.125"] and rows["modes"]["shown"] == "7"
