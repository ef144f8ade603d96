"""The published-data fit: parameters that generated the times are recovered; few rows keep declared values."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pytest

from zerofl_profiler.calibration.predict import with_fields
from zerofl_profiler.calibration.published.declared import DeclaredUnit
from zerofl_profiler.calibration.published.fit import fit_class, predict_row, unit_model
from zerofl_profiler.calibration.published.rows import parse_row
from zerofl_profiler.hardware_models.records import DeviceProfile
from zerofl_profiler.hardware_models.workload import StepRows, class_index

DECL = DeviceProfile(
    name="dev-cpu", device="dev", unit="cpu", mode=None, energy_mode="active_power", peak_flops=2e11,
    mem_bandwidth_bytes_per_s=3e10, kernel_overhead_s=2e-5, sparse_efficiency=0.0, idle_power_w=0.5,
    efficiency=MappingProxyType({"gemm": 0.3, "elementwise": 0.05, "optimizer": 0.05}), ram_bytes=1e9,
    active_power_w=5.0)


def _row(i: int, batch: int, model: str, t: float, **kw: object):
    raw = {"id": f"r{i}", "device": "dev", "unit": "cpu", "runtime": "rt", "model": model, "batch": batch,
           "optimizer": "sgd", "precision": "fp32", "precision_basis": "b", "setup": "s",
           "measured": {"value": t, "unit": "s_per_step"},
           "source": {"repository": "o/r", "commit": "c", "file": "f", "quote": "q"}}
    raw.update(kw)
    return parse_row(raw, "t")


def _work(batch: int, layer_flops: float, n: int) -> StepRows:
    f = np.full(n, layer_flops * batch)
    cls = np.array([class_index(c) for c in ("gemm",) * n + ("elementwise", "optimizer")])
    flops = np.concatenate([f, [1e5 * batch, 1e5]])
    z = np.zeros(0)
    return StepRows(np.zeros(n + 2, dtype=np.int64), cls, flops, flops,
                    np.concatenate([f / 50, [4e5 * batch, 1e6]]), np.ones(n + 2), z, z, z, np.zeros(0, dtype=np.int64))


def _synthetic(truth: DeviceProfile) -> tuple[list, dict]:
    rows, work = [], {}
    i = 0
    for model, lf, n in (("mnn-lenet", 2e6, 6), ("mnn-alexnet", 3e8, 8), ("resnet50-v1.5", 4e7, 40)):
        for b in (1, 2, 4, 8, 16, 32):
            w = _work(b, lf, n)
            t = predict_row(_row(i, b, model, 1.0), w, truth).time_s
            r = _row(i, b, model, t)
            rows.append(r)
            work[r.id] = w
            i += 1
    return rows, work


DECLARED = {("dev", "cpu"): DeclaredUnit("dev", "cpu", "phone", "rt", DECL, {})}


def _fit_truth(optimizer_eff: float, **fields: float):
    """Fit rows generated from the declared unit with GEMM efficiency 0.12, 300 us per op and ``fields``."""
    truth = with_fields(
        DECL, efficiency=MappingProxyType({"gemm": 0.12, "elementwise": 0.05, "optimizer": optimizer_eff}),
        kernel_overhead_s=3e-4, **fields)
    rows, work = _synthetic(truth)
    cf = fit_class("phone-cpu", rows, work, DECLARED)
    return cf, cf.devices[("dev", "cpu", None)], rows, work


def test_fit_recovers_flat_parameters() -> None:
    """Flat efficiency: GEMM efficiency, overhead and the (memory-bound rows') bandwidth come back."""
    cf, d, _, _ = _fit_truth(0.05, mem_bandwidth_bytes_per_s=1.2e10)
    assert d.status == "fitted" and set(d.fitted) == {"scale", "overhead", "bandwidth"}
    assert cf.rms_log_error < 1e-3 and cf.half_work_flops is None
    assert d.gemm_efficiency == pytest.approx(0.12, rel=0.02)
    assert d.kernel_overhead_s == pytest.approx(3e-4, rel=0.02)
    assert d.mem_bandwidth_bytes_per_s == pytest.approx(1.2e10, rel=0.02)


def test_fit_reproduces_a_curved_truth() -> None:
    """With the size curve every op is compute-bound; the per-op constant h / (P * eff) + o is what is identifiable."""
    cf, d, rows, work = _fit_truth(0.01, half_work_flops=5e7)
    assert cf.rms_log_error < 1e-2
    assert d.gemm_efficiency == pytest.approx(0.12, rel=0.05)
    u = unit_model(DECLARED[("dev", "cpu")], cf)
    for r in rows:
        assert predict_row(r, work[r.id], u).time_s == pytest.approx(r.step_s, rel=2e-2)


def test_one_row_is_too_few_and_keeps_declared_values() -> None:
    decl = DECLARED
    r = _row(0, 4, "mnn-lenet", 0.01)
    cf = fit_class("phone-cpu", [r], {r.id: _work(4, 1e6, 3)}, decl)
    d = cf.devices[("dev", "cpu", None)]
    assert d.status == "too few rows" and d.fitted == () and d.rows == ()
    assert d.gemm_efficiency == DECL.efficiency["gemm"] and d.kernel_overhead_s == DECL.kernel_overhead_s
    assert cf.fitted == ()


def test_power_fit_from_board_power_rows() -> None:
    decl = {("dev", "cpu"): DeclaredUnit("dev", "cpu", "phone", "rt", DECL, {})}
    truth = with_fields(DECL, dynamic_power_w=4.0)
    rows, work = [], {}
    for i, b in enumerate((1, 4, 16)):
        w = _work(b, 1e7, 5)
        pr = predict_row(_row(i, b, "mnn-lenet", 1.0), w, truth)
        r = _row(i, b, "mnn-lenet", pr.time_s, power={"value": pr.power_w, "unit": "w_average"})
        rows.append(r)
        work[r.id] = w
    d = fit_class("phone-cpu", rows, work, decl).devices[("dev", "cpu", None)]
    assert d.power_status == "fitted" and d.dynamic_power_w == pytest.approx(4.0, rel=1e-3)
    assert d.idle_power_w == DECL.idle_power_w


def test_power_mode_fits_its_clock() -> None:
    """Rows under a power limit share the unit's parameters and fit only the clock factor of the compute peaks."""
    from zerofl_profiler.calibration.published.fit import _in_mode

    truth = with_fields(DECL, efficiency=MappingProxyType({"gemm": 0.12, "elementwise": 0.05, "optimizer": 0.05}),
                        kernel_overhead_s=3e-4)
    rows, work = _synthetic(truth)
    slow = _in_mode(truth, 0.6, None)
    modes = {}
    for i, b in enumerate((2, 8, 32)):
        w = _work(b, 3e8, 8)
        r = _row(100 + i, b, "mnn-alexnet", predict_row(_row(0, b, "mnn-alexnet", 1.0), w, slow).time_s)
        rows.append(r)
        work[r.id] = w
        modes[r.id] = "150W"
    cf = fit_class("phone-cpu", rows, work, DECLARED, modes)
    m = cf.devices[("dev", "cpu", "150W")]
    assert m.status == "fitted" and m.fitted == ("clock",) and m.clock == pytest.approx(0.6, rel=0.02)
    u = unit_model(DECLARED[("dev", "cpu")], cf, "150W")
    assert u.peak_flops == pytest.approx(2e11 * m.clock)
