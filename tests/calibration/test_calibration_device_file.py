"""The calibrated device file: valid for hardware_models, sourced, found as `host`, and priced like the fit."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from zerofl_profiler.analysis.estimate import Costing, compare_workload
from zerofl_profiler.calibration.cases import HostParams
from zerofl_profiler.calibration.device_file import host_document, write_device_file
from zerofl_profiler.calibration.fit import FitResult, predict
from zerofl_profiler.calibration.run import HostCalibration, HostInfo, UnitCalibration
from zerofl_profiler.calibration.steps import StepSpec, case_from_doc, layers_doc
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.hardware_models.catalogue import get_device, resolve_device
from zerofl_profiler.hardware_models.spec import OP_CLASSES, load_device_file, parse_device

PARAMS = HostParams({"gemm": 50e9, "elementwise": 2e9, "topk": 0.3e9, "optimizer": float("inf")}, 12e9, 2e-5, 0.25)


def _calibration(params: HostParams = PARAMS) -> HostCalibration:
    measured = tuple(c for c in OP_CLASSES if params.rate_flops.get(c, float("inf")) != float("inf"))
    fit = FitResult(params, {"x": 0.01}, measured, True, 10e9, 3)
    unit = UnitCalibration("cpu", (), fit, 100e9, "mm1024", 1.0, "wall")
    info = HostInfo("Test CPU 9000", "2.x", 2, "2026-01-02T03:04:05Z", 8 * 2**30)
    return HostCalibration(info, (unit,), True)


def test_document_is_valid_and_every_number_sourced(tmp_path: Path) -> None:
    path = write_device_file(_calibration(), tmp_path / "sub" / "host.toml")
    spec = load_device_file(path)
    qs = spec.quantities()
    kinds = {k: q.source.kind for k, q in qs.items()}
    for k in ("units.cpu.peak_flops", "units.cpu.mem_bandwidth_bytes_per_s", "units.cpu.kernel_overhead_s",
              "units.cpu.sparse_efficiency", "units.cpu.efficiency.gemm", "units.cpu.efficiency.elementwise",
              "units.cpu.efficiency.topk", "ram_bytes"):
        assert kinds[k] == "measured", k
    # power is not measured by calibrate, and a class never compute-bound is an assumption
    assert kinds["units.cpu.idle_power_w"] == kinds["units.cpu.active_power_w"] == "assumption"
    assert kinds["units.cpu.efficiency.optimizer"] == "assumption"
    assert all(q.source.ref.strip() and q.source.quote.strip() for q in qs.values())
    assert "Test CPU 9000" in spec.notes and "2.x" in spec.notes and "2026-01-02" in spec.notes
    prof = spec.profile()
    assert prof.peak_flops * prof.eff("gemm") == pytest.approx(50e9)
    assert prof.peak_flops * prof.eff("topk") == pytest.approx(0.3e9)
    assert prof.eff("optimizer") == 1.0
    assert prof.mem_bandwidth_bytes_per_s == pytest.approx(12e9)
    assert prof.kernel_overhead_s == pytest.approx(2e-5)
    assert prof.sparse_efficiency == pytest.approx(0.25)
    assert prof.ram_bytes == 8 * 2**30


def test_host_name_resolves_to_the_calibrated_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("ZEROFL_HOST_DEVICE", raising=False)
    write_device_file(_calibration(), tmp_path / "zerofl-profiler" / "host.toml")
    assert "Test CPU 9000" in get_device("host").display_name
    assert resolve_device("host").kernel_overhead_s == pytest.approx(2e-5)


def test_write_fails_cleanly_where_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BadInputError, match="cannot write"):
        write_device_file(_calibration(), blocker / "host.toml")


def test_document_round_trips_through_the_parser() -> None:
    doc = host_document(_calibration())
    assert parse_device(doc).name == "host"


def _tiny() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


@pytest.mark.parametrize("sparsity", [0.0, 0.6])
def test_fit_prices_a_step_exactly_as_compare_does(tmp_path: Path, sparsity: float) -> None:
    """The fit's model of a step == analysis.estimate.compare_workload on the written device file."""
    doc = layers_doc(StepSpec("tiny", _tiny, (3, 8, 8), 4, sparsity))
    prof = load_device_file(write_device_file(_calibration(), tmp_path / "h.toml")).profile()
    via_compare = compare_workload({sparsity: doc}, 1, Costing((prof,))).points[0].cost.time_s
    assert predict(case_from_doc("tiny", doc), PARAMS) == pytest.approx(via_compare, rel=1e-9)


# ------------------------------------------------------------------ the measured sparse-kernel curve
#: speed-ups of CSR over dense as `calibrate` measured them on the 2-core development machine
MEASURED_SPEEDUPS = {0.5: 0.09, 0.2: 0.22, 0.1: 0.39, 0.05: 0.62, 0.01: 1.30}


def _curved(tmp_path: Path) -> tuple[Path, Path]:
    """The same calibration written with and without the measured CSR curve (scalar sparse efficiency 0)."""
    from dataclasses import replace

    from zerofl_profiler.calibration.sparse_curve import SparseCurve, SparsePoint, efficiency

    params = HostParams(dict(PARAMS.rate_flops), PARAMS.mem_bandwidth_bytes_per_s, PARAMS.kernel_overhead_s, 0.0)
    plain = _calibration(params)
    pts = tuple(SparsePoint(d, 1e-2, 1e-2 / s, s, efficiency(d, s)) for d, s in MEASURED_SPEEDUPS.items())
    curve = SparseCurve("csr", (512, 4608, 512), 3, 1, pts, "cpu")
    curved = replace(plain, units=(replace(plain.units[0], sparse_curve=curve),))
    return (write_device_file(curved, tmp_path / "curved" / "host.toml"),
            write_device_file(plain, tmp_path / "plain" / "host.toml"))


def test_the_measured_curve_is_written_with_a_measured_source(tmp_path: Path) -> None:
    from zerofl_profiler.calibration.sparse_curve import efficiency
    from zerofl_profiler.hardware_models.records import BreakEven

    curved, plain = _curved(tmp_path)
    spec = load_device_file(curved)
    c = spec.units["cpu"].sparse_efficiency_curve
    assert spec.schema == 2 and c is not None and c.source.kind == "measured"
    assert c.density == (0.01, 0.05, 0.1, 0.2, 0.5)
    assert c.efficiency[0] == pytest.approx(efficiency(0.01, 1.30), abs=1e-4) and c.efficiency[0] > 0
    assert c.efficiency[1:] == (0.0, 0.0, 0.0, 0.0)  # slower than dense: efficiency 0, never negative
    assert "x1.30" in c.source.quote and "Test CPU 9000" in c.source.ref
    assert BreakEven.of(spec).density == 0.01
    assert load_device_file(plain).schema == 1 and BreakEven.of(load_device_file(plain)).density is None


def test_compare_on_the_calibrated_host_saves_time_only_where_the_kernel_measured_a_speed_up(tmp_path: Path) -> None:
    """Sparsity 0.99 (density 0.01) is faster than with no curve by the measured efficiency; 0.9 is not."""
    from zerofl_profiler.calibration.sparse_curve import efficiency

    curved, plain = _curved(tmp_path)
    docs = {s: layers_doc(StepSpec("tiny", _tiny, (3, 8, 8), 4, s)) for s in (0.0, 0.9, 0.99)}
    with_curve = load_device_file(curved).profile()
    without = load_device_file(plain).profile()
    res = compare_workload(docs, 1, Costing((with_curve, without)))
    by = {("curved" if i % 2 == 0 else "plain", p.sparsity): p.cost.time_s for i, p in enumerate(res.points)}
    assert by[("curved", 0.0)] == pytest.approx(by[("plain", 0.0)])
    assert by[("curved", 0.9)] == pytest.approx(by[("plain", 0.9)])  # density 0.1: the dense kernel wins
    assert by[("curved", 0.99)] < by[("plain", 0.99)]  # density 0.01: the measured speed-up
    # independent reference: the fit's own step model with the curve's efficiency at 0.01 as a scalar
    e = efficiency(0.01, MEASURED_SPEEDUPS[0.01])
    params = HostParams(dict(PARAMS.rate_flops), PARAMS.mem_bandwidth_bytes_per_s, PARAMS.kernel_overhead_s, e)
    assert by[("curved", 0.99)] == pytest.approx(predict(case_from_doc("tiny", docs[0.99]), params), rel=1e-6)
    notes = [n for n in res.notes if "dense kernel wins" in n]
    assert len(notes) == 1 and "density 0.1 " in notes[0] and "0.01" not in notes[0]
