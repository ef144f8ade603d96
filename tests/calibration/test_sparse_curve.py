"""The measured sparse-efficiency curve: the efficiency rule, and a real (tiny) measurement."""

from __future__ import annotations

import tomllib

import pytest

from zerofl_profiler.calibration.sparse_curve import SparseCurve, SparsePoint, curve_toml, efficiency, measure_csr_curve


def test_efficiency_is_the_share_of_the_flop_saving_that_became_time():
    # density 0.1 and 2x faster: time fell by 1/2 of a possible 0.9 -> 0.5 / 0.9
    assert efficiency(0.1, 2.0) == pytest.approx(0.5 / 0.9)
    assert efficiency(0.01, 100.0) == pytest.approx(1.0)
    assert efficiency(0.5, 0.4) == 0.0  # slower than dense: the dense kernel wins, never a negative saving
    assert efficiency(1.0, 3.0) == 0.0


def test_a_real_measurement_gives_a_valid_device_file_curve():
    curve = measure_csr_curve((0.5, 0.05), shape=(32, 64, 16), rounds=1, repeats=1)
    assert [p.density for p in curve.points] == [0.5, 0.05]
    assert all(p.dense_s > 0 and p.sparse_s > 0 and 0.0 <= p.efficiency <= 1.0 for p in curve.points)
    line, src = curve_toml(curve)
    doc = tomllib.loads("[units.cpu]\n" + line + "\n" + src)
    c = doc["units"]["cpu"]["sparse_efficiency_curve"]
    assert c["density"] == [0.05, 0.5] and len(c["efficiency"]) == 2
    assert doc["sources"]["sparse_measured"]["kind"] == "measured"


def test_break_even_is_the_highest_density_where_sparse_wins():
    pts = tuple(SparsePoint(d, 1.0, 1.0 / s, s, efficiency(d, s)) for d, s in ((0.5, 0.2), (0.05, 1.3), (0.01, 4.0)))
    assert SparseCurve("csr", (1, 1, 1), 1, 1, pts).break_even_density() == 0.05
