import math

import pytest

from genzoo.studies.theory import equilibrium, nash, optimal_d, saturation


def test_optimal_d_matches_closed_form(tmp_path):
    r = optimal_d(tmp_path / "o.png", steps=1500)
    assert r["max_abs_error"] < 0.03
    assert (tmp_path / "o.png").stat().st_size > 10_000


def test_equilibrium_value_is_minus_log_4(tmp_path):
    r = equilibrium(tmp_path / "e.png", steps=600)
    assert r["V"] == pytest.approx(-math.log(4), abs=2e-3)
    assert r["max_abs_D_minus_half"] < 0.03


def test_saturation_autograd_matches_closed_forms(tmp_path):
    r = saturation(tmp_path / "s.png")
    assert r["max_abs_error_vs_closed_form"] < 1e-6


def test_nash_simultaneous_diverges_alternating_stays_bounded(tmp_path):
    r = nash(tmp_path / "n.png", lr=0.1, steps=200)
    # simultaneous GDA multiplies the radius by sqrt(1 + lr^2) every step
    assert r["simultaneous_final_radius"] == pytest.approx(r["start_radius"] * (1 + 0.01) ** 100, rel=1e-6)
    assert r["alternating_max_radius"] < 1.1 * r["start_radius"]
