"""The per-op dispatch of PyTorch eager in the published fit: declared unit and prior, identified or kept."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pytest

from zerofl_profiler.calibration.predict import with_fields
from zerofl_profiler.calibration.published.declared import DeclaredUnit, declared_units
from zerofl_profiler.calibration.published.fit import fit_class, predict_row
from zerofl_profiler.calibration.published.rows import parse_row
from zerofl_profiler.hardware_models.catalogue import get_device
from zerofl_profiler.hardware_models.records import DeviceProfile
from zerofl_profiler.hardware_models.workload import StepRows, class_index


def test_declared_dispatch_units_and_prior() -> None:
    """The eager-PyTorch GPUs dispatch per aten op from the measured prior; MNN stays per row."""
    d = declared_units([("v100", "gpu"), ("a100", "gpu"), ("snapdragon-855", "cpu")])
    for dev in ("v100", "a100"):
        m = d[(dev, "gpu")].model
        assert (m.dispatch, m.dispatch_unit) == ("async", "op")
        assert m.kernel_overhead_s == pytest.approx(6.98e-6)
        assert d[(dev, "gpu")].extras_sources["kernel_overhead_s"] == "eager_dispatch_host"
        assert get_device(dev).profile().dispatch_unit == "op"  # the catalogue file the fitter wrote
    assert d[("snapdragon-855", "cpu")].model.dispatch_unit == "row"


def test_declared_extras_of_the_a40_rtx6000_and_p100() -> None:
    """Not yet fitted: the catalogue files are declared, declared.toml adds eager dispatch and the precisions."""
    d = declared_units([("a40", "gpu"), ("rtx6000", "gpu"), ("p100", "gpu")])
    for dev in ("a40", "rtx6000", "p100"):
        m = d[(dev, "gpu")].model
        assert (m.dispatch, m.dispatch_unit, m.runtime) == ("async", "op", "pytorch-eager")
        assert m.kernel_overhead_s == pytest.approx(6.98e-6)
        assert m.peak_flops == get_device(dev).units["gpu"].peak_flops.value
        assert "fp16" in m.peaks
    a40 = d[("a40", "gpu")].model
    assert dict(a40.precision) == {"gemm": "tf32", "gemm_grouped": "tf32"}
    assert a40.peak("gemm") == pytest.approx(74.8e12) and a40.peak("elementwise") == pytest.approx(37.4e12)
    for dev in ("rtx6000", "p100"):  # Turing and Pascal: no TF32, FP32 convolutions
        m = d[(dev, "gpu")].model
        assert not m.precision and "tf32" not in m.peaks and m.peak("gemm") == m.peak_flops


DECL = DeviceProfile(
    name="g-gpu", device="g", unit="gpu", mode=None, energy_mode="active_power", peak_flops=1e13,
    mem_bandwidth_bytes_per_s=1e12, kernel_overhead_s=5e-6, sparse_efficiency=0.0, idle_power_w=40.0,
    efficiency=MappingProxyType({"gemm": 0.5, "elementwise": 0.05, "optimizer": 0.05}), ram_bytes=1e9,
    active_power_w=200.0, dispatch="async", dispatch_unit="op")
DECLARED = {("g", "gpu"): DeclaredUnit("g", "gpu", "gpu", "pytorch-eager", DECL, {})}


def _row(i: int, batch: int, t: float):
    return parse_row({"id": f"r{i}", "device": "g", "unit": "gpu", "runtime": "pytorch-eager", "model": "m",
                      "batch": batch, "optimizer": "sgd", "precision": "fp32", "precision_basis": "b", "setup": "s",
                      "measured": {"value": t, "unit": "s_per_step"},
                      "source": {"repository": "o/r", "commit": "c", "file": "f", "quote": "q"}}, "t")


def _rows(truth: DeviceProfile, batches: tuple[int, ...]) -> tuple[list, dict]:
    rows, work = [], {}
    z = np.zeros(0)
    for i, b in enumerate(batches):
        f = np.full(20, 2e8 * b)
        w = StepRows(np.zeros(20, dtype=np.int64), np.full(20, class_index("gemm")), f, f, f / 20, np.ones(20),
                     z, z, z, np.zeros(0, dtype=np.int64), launches=np.full(20, 50.0))
        rows.append(_row(i, b, predict_row(_row(i, b, 1.0), w, truth).time_s))
        work[rows[-1].id] = w
    return rows, work


def test_host_bound_rows_identify_the_per_op_cost() -> None:
    """1000 ops at 20 us = 20 ms of dispatch against 1.3-43 ms of device work: the small batches show it,
    even from a declared 0.5 us at which every row is device-bound (the second start, 4x, is not)."""
    truth = with_fields(DECL, kernel_overhead_s=2e-5, efficiency=MappingProxyType(
        {"gemm": 0.3, "elementwise": 0.05, "optimizer": 0.05}))
    rows, work = _rows(truth, (1, 2, 4, 8, 16, 32))
    low = {k: DeclaredUnit(v.device, v.unit, v.category, v.runtime, with_fields(DECL, kernel_overhead_s=5e-7), {})
           for k, v in DECLARED.items()}
    for declared in (DECLARED, low):
        d = fit_class("gpu", rows, work, declared).devices[("g", "gpu", None)]
        assert "overhead" in d.fitted and d.kernel_overhead_s == pytest.approx(2e-5, rel=0.02)


def test_device_bound_rows_keep_the_declared_prior() -> None:
    """Every row device-bound (1000 ops at 5 us against >= 0.2 s of work): the overhead stays declared."""
    rows, work = _rows(with_fields(DECL, kernel_overhead_s=1e-6), (256, 512, 1024, 2048))
    d = fit_class("gpu", rows, work, DECLARED).devices[("g", "gpu", None)]
    assert d.kernel_overhead_s == pytest.approx(DECL.kernel_overhead_s)
    assert d.gemm_efficiency == pytest.approx(0.5, rel=0.02)
