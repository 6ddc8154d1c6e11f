import math

import pytest
import torch
from PIL import Image

from genzoo.cli import main
from genzoo.explore.latent import lerp, path, seeded_latents, slerp


def test_slerp_endpoints_and_norms():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, generator=g), torch.randn(64, generator=g)
    t = torch.linspace(0, 1, 11)
    s = slerp(a, b, t)
    assert torch.allclose(s[0], a, atol=1e-5) and torch.allclose(s[-1], b, atol=1e-5)
    want = a.norm() + (b.norm() - a.norm()) * t  # the norm moves linearly, never dips
    assert torch.allclose(s.norm(dim=1), want, atol=1e-4)
    mid_lerp = lerp(a, b, torch.tensor([0.5]))[0].norm()
    assert mid_lerp < 0.8 * min(a.norm(), b.norm())  # lerp's dip through the low-norm interior
    # equal angular steps along the great circle
    u = s / s.norm(dim=1, keepdim=True)
    angles = torch.arccos((u[1:] * u[:-1]).sum(1).clamp(-1, 1))
    assert torch.allclose(angles, angles.mean().expand(10), atol=1e-4)


def test_slerp_of_parallel_vectors_is_lerp():
    a = torch.ones(4)
    assert torch.allclose(slerp(a, 3 * a, torch.tensor([0.5]))[0], 2 * a)


def test_path_shape_and_seeded_latents():
    z = seeded_latents([3, 4, 5], lambda n, g: torch.randn(n, 8, generator=g))
    assert torch.equal(z[0], torch.randn(1, 8, generator=torch.Generator().manual_seed(3))[0])
    assert path(z, 6).shape == (2, 6, 8)


def test_interpolate_cli(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "dcgan", "--steps", "5", "--out", str(run), "--quiet", "--set", "model.g_width=8",
                 "--set", "model.d_width=8"]) == 0
    assert main(["interpolate", str(run), "--seeds", "1,2,3", "--steps", "7", "--out", str(tmp_path / "i.png")]) == 0
    w, h = Image.open(tmp_path / "i.png").size
    assert w > h and math.isclose(w / h, (7 * 30 + 2) / (2 * 30 + 2), rel_tol=0.01)
    assert main(["interpolate", str(run), "--out", str(tmp_path / "i.gif"), "--method", "lerp"]) == 0
    assert Image.open(tmp_path / "i.gif").n_frames == 18
    capsys.readouterr()
    assert main(["interpolate", str(run), "--seeds", "1"]) == 2
    assert "at least two points" in capsys.readouterr().err
    assert main(["interpolate", str(run), "--seeds", "a,b"]) == 2


def test_flicker_hand_case():
    import numpy as np

    from genzoo.studies.experiments import flicker
    preds = [(0, np.array([1, 2, 3, 4])), (10, np.array([1, 2, 0, 0])),   # first half: ignored
             (20, np.array([1, 2, 3, 4])), (30, np.array([1, 2, 3, 5])), (40, np.array([0, 2, 3, 5]))]
    assert flicker(preds) == pytest.approx((1 / 4 + 1 / 4) / 2)


def test_zdim_experiment_writes_everything(tmp_path, capsys):
    import json
    out = tmp_path / "zd"
    assert main(["experiment", "zdim", "--dims", "8,1", "--steps", "20", "--dataset", "embedded", "--n", "300",
                 "--out", str(out), "--quiet"]) == 0
    assert {"zdim_modes.png", "zdim.md", "zdim.json", "zdim-8", "zdim-1"} <= {p.name for p in out.iterdir()}
    doc = json.loads((out / "zdim.json").read_text())
    assert [r["z_dim"] for r in doc["rows"]] == [8, 1]
    for r in doc["rows"]:
        assert sum(r["counts"]) == 300 and 0 <= r["flicker"] <= 1 and r["fid[lenet-mnist]"] > 0
    assert len(list((out / "zdim-8" / "checkpoints").glob("*.json"))) == 10  # one snapshot per tenth
    assert "| 8 |" in capsys.readouterr().out


def test_inversion_of_a_generated_image_reaches_low_error():
    from genzoo.explore.invert import invert_encoder, invert_optimize, train_encoder
    from genzoo.nets import MLPGenerator
    torch.manual_seed(0)
    G = MLPGenerator(8, (1, 28, 28), hidden=64).eval()  # no batch norm: varied outputs even untrained
    z_true = torch.randn(6, 8)
    with torch.no_grad():
        x = G(z_true)
        baseline = (G(torch.randn(6, 8)) - x).pow(2).flatten(1).mean(1)  # a random z
    _, err = invert_optimize(G, x, 8, steps=100, restarts=2)
    assert (err < 0.05 * baseline).all(), (err, baseline)
    E = train_encoder(G, 8, (1, 28, 28), steps=150, batch=64)
    _, err_e = invert_encoder(G, E, x)
    assert err_e.mean() < 0.5 * baseline.mean(), (err_e, baseline)


def test_invert_cli(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "dcgan", "--steps", "5", "--out", str(run), "--quiet", "--set", "model.g_width=8",
                 "--set", "model.d_width=8"]) == 0
    Image.new("RGB", (40, 30), (255, 255, 255)).save(tmp_path / "white.png")  # wrong size and channels: resized
    assert main(["invert", str(run), str(tmp_path / "white.png"), "--steps", "5", "--restarts", "1"]) == 0
    assert Image.open(run / "inversion.png").size == (2 * (28 + 2 + 2), 2 * (2 * (28 + 2) + 2))  # 1 column, 2 rows, x2
    assert main(["invert", str(run), "--test", "3", "--encoder", "--encoder-steps", "5",
                 "--out", str(tmp_path / "e.png")]) == 0
    assert "encoder: pixel MSE" in capsys.readouterr().out
    assert main(["invert", str(run)]) == 2
    (tmp_path / "bad.png").write_bytes(b"nope")
    assert main(["invert", str(run), str(tmp_path / "bad.png")]) == 2
    assert "cannot read image" in capsys.readouterr().err


# -- latent sets and arithmetic ---------------------------------------------------------------------
def test_parse_expression_and_bad_names():
    from genzoo.explore.arithmetic import parse_expression
    from genzoo.errors import GenzooError

    assert parse_expression("A - B + C") == [(1, "A"), (-1, "B"), (1, "C")]
    assert parse_expression("smile.w-neutral.w+neutral.m") == [(1, "smile.w"), (-1, "neutral.w"), (1, "neutral.m")]
    for bad in ("", "A -", "- A", "A B", "A + + B", "A - 3x"):
        with pytest.raises(GenzooError):
            parse_expression(bad)


def test_renorm_and_variations_leave_codes_alone():
    from genzoo.explore.arithmetic import renorm, variations

    v = torch.cat([torch.full((16,), 0.1), torch.tensor([0.0, 1.0])])  # z (16) ⊕ one-hot class (2)
    r = renorm(v[None], 16)[0]
    assert r[:16].norm().item() == pytest.approx(4.0) and torch.equal(r[16:], v[16:])
    assert torch.allclose(r[:16] / r[:16].norm(), v[:16] / v[:16].norm())  # direction kept
    assert renorm(v[None], 16, scale=0.5)[0, :16].norm().item() == pytest.approx(2.0)  # N(0, 0.25 I) shell
    var = variations(v, 5, z_dim=16)
    assert torch.equal(var[0], v) and torch.equal(var[:, 16:], v[16:].expand(5, 2))
    assert (var[1:, :16] - v[:16]).abs().max() <= 0.25 and (var[1:] != v).any()


def test_latents_and_arithmetic_cli(tmp_path, capsys):
    import json

    from genzoo.explore.latent import seeded_latents
    from genzoo.run import Run

    run = tmp_path / "g"
    assert main(["train", "dcgan", "--steps", "30", "--out", str(run), "--quiet", "--set", "model.g_width=8",
                 "--set", "model.d_width=8", "--set", "train.sample_every=30", "--set", "watch.enabled=false"]) == 0
    assert main(["latents", "save", str(run), "a", "--seeds", "1,2,3"]) == 0
    assert main(["latents", "save", str(run), "b", "--seeds", "4"]) == 0
    assert main(["latents", "save", str(run), "sev", "--label", "7", "--n", "300"]) in (0, 2)  # 0 if any sample is a 7
    algo = Run.open(run).algo
    a = torch.tensor(json.loads((run / "latents" / "a.json").read_text())["latent"])
    assert torch.allclose(a, seeded_latents([1, 2, 3], algo.sample_z).mean(0), atol=1e-6)
    capsys.readouterr()
    assert main(["latents", "list", str(run)]) == 0
    assert "seeds [1, 2, 3]" in capsys.readouterr().out
    assert main(["arithmetic", str(run), "a - b + a", "--variations", "3", "--out", str(tmp_path / "ar.png")]) == 0
    im = Image.open(tmp_path / "ar.png")
    assert im.width > 6 * 28 and "results" in capsys.readouterr().out  # 3 terms + 3 results in one row
    assert main(["arithmetic", str(run), "a - nothere"]) == 2
    assert "no latent set 'nothere'" in capsys.readouterr().err
    assert main(["latents", "save", str(run), "bad-name", "--seeds", "1"]) == 2


def test_signal_window_mean_and_rank_correlation(tmp_path):
    from genzoo.run import read_log
    from genzoo.studies.experiments import _signal_at, _spearman

    log = tmp_path / "log.jsonl"
    log.write_text("".join(f'{{"step": {s}, "wasserstein": {v}}}\n' for s, v in ((10, 1.0), (20, 3.0), (30, 5.0),
                                                                                   (40, "null"))) + '{"step": 5')
    rows = read_log(log)[0]                                          # the cut-off last line is dropped
    assert _signal_at(rows, "wasserstein", 30, 20) == 4.0           # steps 20 and 30; 10 is outside the window
    assert _spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert _spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)


def test_wgan_signal_experiment_writes_everything(tmp_path, capsys):
    assert main(["experiment", "wgan-signal", "--steps", "10", "--dataset", "embedded", "--n", "200",
                 "--out", str(tmp_path), "--quiet"]) == 0
    import json
    res = json.loads((tmp_path / "wgan_signal.json").read_text())
    assert [r["recipe"] for r in res["rows"]] == ["wgan", "dcgan"]
    assert [r["signal"] for r in res["rows"]] == ["wasserstein", "loss_d"]
    assert all(len(r["series"]) == 10 and -1 <= r["spearman"] <= 1 for r in res["rows"])
    assert (tmp_path / "wgan_signal.png").stat().st_size > 5000
    assert "Spearman" in capsys.readouterr().out
