"""The measured sparse-efficiency curve: the efficiency rule, and a real (tiny) measurement."""

from __future__ import annotations

import pytest

from zerofl_profiler.calibration.sparse_curve import SparseCurve, SparsePoint, curve_entry, efficiency, measure_csr_curve
from zerofl_profiler.hardware_models.devicefile import parse_device


def test_efficiency_is_the_share_of_the_flop_saving_that_became_time():
    # density 0.1 and 2x faster: time fell by 1/2 of a possible 0.9 -> 0.5 / 0.9
    assert efficiency(0.1, 2.0) == pytest.approx(0.5 / 0.9)
    assert efficiency(0.01, 100.0) == pytest.approx(1.0)
    assert efficiency(0.5, 0.4) == 0.0  # slower than dense: the dense kernel wins, never a negative saving
    assert efficiency(1.0, 3.0) == 0.0


def _unit(curve: dict) -> dict:
    src = {"kind": "assumption", "ref": "test", "quote": "test"}
    q = {"value": 1e9, "source": src}
    return {"peak_flops": q, "mem_bandwidth_bytes_per_s": q, "kernel_overhead_s": {"value": 0.0, "source": src},
            "sparse_efficiency": {"value": 0.0, "source": src}, "idle_power_w": {"value": 1.0, "source": src},
            "active_power_w": {"value": 2.0, "source": src},
            "efficiency": {c: {"value": 0.5, "source": src} for c in ("gemm", "elementwise")},
            "sparse_efficiency_curve": curve}


@pytest.mark.parametrize("level", ["layer", "gemm"])
def test_a_real_measurement_gives_a_valid_device_file_curve(level):
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)  # calibrate's robust setting (and OpenMP waits on a busy core would dominate)
    try:
        curve = measure_csr_curve((0.5, 0.05), shape=(32, 64, 16), rounds=2, clock="cpu", min_sample_s=0.0,
                                  level=level)
    finally:
        torch.set_num_threads(old)
    assert [p.density for p in curve.points] == [0.5, 0.05]
    assert all(p.dense_s > 0 and p.sparse_s > 0 and 0.0 <= p.efficiency <= 1.0 for p in curve.points)
    assert len({p.dense_s for p in curve.points}) == 1  # one dense case: its time does not depend on the zeros
    doc = {"schema": 2, "name": "t", "display_name": "t", "category": "host", "energy_mode": "active_power",
           "default_unit": "cpu", "ram_bytes": {"value": 1e9, "source": {"kind": "assumption", "ref": "t",
                                                                           "quote": "t"}},
           "units": {"cpu": _unit(curve_entry(curve, "unit test"))}}
    c = parse_device(doc).units["cpu"].sparse_efficiency_curve
    assert c is not None and c.density == (0.05, 0.5) and c.source.kind == "measured"
    assert "unit test: CSR kernels for the three products" in c.source.ref and "d=0.05" in c.source.quote
    assert ("SWAT linear layer forward + backward" in c.source.quote) == (level == "layer")


def test_the_cpu_clock_needs_one_thread():
    import torch

    from zerofl_profiler.errors import BadInputError

    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(BadInputError, match="--clock cpu needs --threads 1"):
            measure_csr_curve((0.5,), shape=(8, 8, 8), rounds=1, clock="cpu")
    finally:
        torch.set_num_threads(old)


def test_break_even_is_the_highest_density_where_sparse_wins():
    pts = tuple(SparsePoint(d, 1.0, 1.0 / s, s, efficiency(d, s)) for d, s in ((0.5, 0.2), (0.05, 1.3), (0.01, 4.0)))
    curve = SparseCurve("csr", (1, 1, 1), 1, 1, pts)
    assert curve.break_even_density() == 0.05
    assert curve.to_json()["break_even_density"] == 0.05
    assert [p["density"] for p in curve.to_json()["points"]] == [0.5, 0.05, 0.01]
