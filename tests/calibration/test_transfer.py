"""A device without rows priced from its class: the fractions carry over, the datasheet numbers stay its own."""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from types import MappingProxyType

import pytest

from zerofl_profiler.calibration.predict import with_fields
from zerofl_profiler.calibration.published.declared import DeclaredUnit, template_text, transfer_targets
from zerofl_profiler.calibration.published.fit import ClassFit, DeviceFit, fit_class, predict_row, unit_model
from zerofl_profiler.calibration.published.transfer import TRANSFERRED, transfer_fit, with_transferred
from zerofl_profiler.calibration.published.write import TRANSFER_SOURCE, device_text

from test_published_fit import DECL, _row, _work


def _unit(dev: str, peak: float, bw: float, active: float) -> DeclaredUnit:
    m = replace(DECL, name=f"{dev}-cpu", device=dev, peak_flops=peak, mem_bandwidth_bytes_per_s=bw,
                active_power_w=active)
    return DeclaredUnit(dev, "cpu", "phone", "rt", m, {})


def _fit(dev: str, gemm: float, ovh: float, bw: float, dyn: float | None) -> DeviceFit:
    return DeviceFit(dev, "cpu", None, "rt", "fitted", gemm, ovh, bw, ("scale", "overhead", "bandwidth"), ("r",),
                     0.5, dyn, "fitted" if dyn is not None else "no power rows")


def test_transfer_takes_geometric_means_of_the_fractions() -> None:
    declared = {("a", "cpu"): _unit("a", 1e11, 1e10, 4.0), ("b", "cpu"): _unit("b", 4e11, 4e10, 8.0),
                ("c", "cpu"): _unit("c", 9e11, 5e10, 10.0)}
    devices = {("a", "cpu", None): _fit("a", 0.2, 1e-5, 5e9, 2.0),  # half its bandwidth, dynamic 0.5 of active
               ("b", "cpu", None): _fit("b", 0.8, 4e-5, 3.2e10, None),  # 0.8 of its bandwidth, no power rows
               ("b", "cpu", "150W"): replace(_fit("b", 0.01, 1.0, 1.0, 1.0), mode="150W"),  # a mode: not a source
               ("c", "cpu", None): _fit("c", 1.0, 1.0, 1.0, 1.0)}  # the target itself: not a source
    cls = ClassFit("phone-cpu", None, None, None, (), MappingProxyType(devices), 0.0)
    t = transfer_fit(declared[("c", "cpu")], cls, declared)
    assert t is not None and t.status == TRANSFERRED and t.sources == ("a-cpu", "b-cpu")
    assert t.gemm_efficiency == pytest.approx(math.sqrt(0.2 * 0.8))
    assert t.kernel_overhead_s == pytest.approx(2e-5)
    assert t.mem_bandwidth_bytes_per_s == pytest.approx(5e10 * math.sqrt(0.5 * 0.8))
    assert t.dynamic_power_w == pytest.approx(10.0 * 0.5) and t.power_sources == ("a-cpu",)
    # with board power limits declared, the dynamic power is the same fraction of the target's limit
    boards = {**declared, ("a", "cpu"): replace(declared[("a", "cpu")], board_power_w=8.0),
              ("c", "cpu"): replace(declared[("c", "cpu")], board_power_w=30.0)}
    tb = transfer_fit(boards[("c", "cpu")], cls, boards)
    assert tb is not None and tb.dynamic_power_w == pytest.approx(30.0 * 2.0 / 8.0) and tb.power_basis == "board_power_w"
    assert t.power_basis == "active_power_w"
    alone = ClassFit("phone-cpu", None, None, None, (), MappingProxyType({("c", "cpu", None): devices[("c", "cpu", None)]}), 0.0)
    assert transfer_fit(declared[("c", "cpu")], alone, declared) is None


def test_a_device_generated_from_the_same_fractions_is_priced_exactly() -> None:
    """Rows of two devices and of a third, generated with one GEMM efficiency, bandwidth fraction and overhead
    on their own peaks: fitting the two and carrying over to the third predicts its rows."""
    specs = {"a": (2e11, 3e10), "b": (6e11, 5e10), "c": (1.2e12, 8e10)}
    declared = {(d, "cpu"): _unit(d, p, bw, 5.0) for d, (p, bw) in specs.items()}
    rows, work, truth_of = [], {}, {}
    i = 0
    for d, (p, bw) in specs.items():
        truth = with_fields(declared[(d, "cpu")].model, kernel_overhead_s=3e-4, mem_bandwidth_bytes_per_s=0.6 * bw,
                            efficiency=MappingProxyType({"gemm": 0.15, "elementwise": 0.05, "optimizer": 0.05}))
        truth_of[d] = truth
        for model, lf, n in (("mnn-lenet", 2e6, 6), ("mnn-alexnet", 3e8, 8)):
            for b in (1, 4, 16, 32):
                w = _work(b, lf, n)
                r = _row(i, b, model, predict_row(_row(i, b, model, 1.0), w, truth).time_s, device=d)
                rows.append(r)
                work[r.id] = w
                i += 1
    cf = fit_class("phone-cpu", [r for r in rows if r.device != "c"], work, declared)
    t = transfer_fit(declared[("c", "cpu")], cf, declared)
    assert t is not None
    u = unit_model(declared[("c", "cpu")], with_transferred(cf, t))
    for r in rows:
        if r.device == "c":
            assert predict_row(r, work[r.id], u).time_s == pytest.approx(r.step_s, rel=0.02)
    # the declared values alone (gemm 0.3, 20 us, datasheet bandwidth) do not
    assert any(abs(predict_row(r, work[r.id], declared[("c", "cpu")].model).time_s / r.step_s - 1) > 0.2
               for r in rows if r.device == "c")


def test_shipped_transfer_targets_write_loadable_files_citing_the_rule() -> None:
    """Every device declared.toml marks ``transfer`` is written with its own peaks and the carried-over values."""
    targets = transfer_targets()
    assert {("h100", "gpu"), ("t4", "gpu"), ("snapdragon-865", "cpu"), ("snapdragon-888", "cpu")} <= set(targets)
    decl = targets[("h100", "gpu")]
    src = DeclaredUnit("a100", "gpu", "gpu", "pytorch-eager",
                       replace(decl.model, name="a100-gpu", device="a100", mem_bandwidth_bytes_per_s=2.039e12,
                               active_power_w=240.0), {})
    fitted = replace(_fit("a100", 0.69, 7e-6, 9.5e11, 300.0), unit="gpu")
    cls = ClassFit("gpu", None, 0.01, 0.05, ("optimizer", "elementwise", "grouped"),
                   MappingProxyType({("a100", "gpu", None): fitted}), 0.1, 0.04)
    t = transfer_fit(decl, cls, {("a100", "gpu"): src, ("h100", "gpu"): decl})
    assert t is not None
    new = tomllib.loads(device_text(template_text("h100"), decl, t, cls))
    u = new["units"]["gpu"]
    assert new["schema"] == 2 and new["sources"][TRANSFER_SOURCE]["kind"] == "assumption"
    assert u["efficiency"]["gemm"] == {"value": pytest.approx(0.69, rel=1e-5), "source": TRANSFER_SOURCE}
    assert u["efficiency"]["gemm_grouped"]["value"] == pytest.approx(0.69 * 0.01, rel=1e-5)
    assert u["mem_bandwidth_bytes_per_s"]["value"] == pytest.approx(3.35e12 * 9.5e11 / 2.039e12, rel=1e-5)
    assert u["dynamic_power_w"]["value"] == pytest.approx(420.0 * 300.0 / 240.0, rel=1e-5)  # no board limits given
    assert u["peak_flops"]["value"] == 67e12 and u["peak_flops_tf32"]["value"] == 494.7e12
    assert u["precision"] == {"gemm": "tf32", "gemm_grouped": "tf32"}
    assert u["dispatch"] == "async" and u["dispatch_unit"] == "op"
    for k in ("h100_tensor", "class_transfer", "pytorch_cudnn_tf32"):
        assert k in new["sources"]


def test_every_declared_gpu_has_its_board_power_limit() -> None:
    """The GPU class carries dynamic power as a fraction of the board's limit: every GPU entry declares one."""
    from zerofl_profiler.calibration.published.declared import _declared_raw, declared_units

    extra = _declared_raw()["device"]
    units = declared_units([(d, u) for d, us in extra.items() for u in us])
    gpus = [k for k, v in units.items() if v.device_class == "gpu"]
    assert len(gpus) >= 6
    assert all(units[k].board_power_w for k in gpus)


def test_block_jacobian_fits_exactly_what_the_full_one_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """A device's parameters only move its rows: differencing their columns on those rows changes nothing."""
    from zerofl_profiler.calibration.published import fit as fit_mod

    specs = {"a": (2e11, 3e10), "b": (6e11, 5e10)}
    declared = {(d, "cpu"): _unit(d, p, bw, 5.0) for d, (p, bw) in specs.items()}
    rows, work = [], {}
    for i, (d, b, model, lf, n) in enumerate((d, b, m, lf, n) for d in specs for m, lf, n in
                                              (("mnn-lenet", 2e6, 6), ("mnn-alexnet", 3e8, 8)) for b in (1, 8, 32)):
        w = _work(b, lf, n)
        rows.append(_row(i, b, model, 0.01 * (i + 1) * (1.3 if d == "a" else 0.7), device=d))
        work[rows[-1].id] = w
    block = fit_class("phone-cpu", rows, work, declared)
    full_gn = fit_mod.gauss_newton
    monkeypatch.setattr(fit_mod, "gauss_newton", lambda resid, x0, iters=60, **_: full_gn(resid, x0, iters))
    full = fit_class("phone-cpu", rows, work, declared)
    assert block.rms_log_error == full.rms_log_error
    for k, d in full.devices.items():
        assert (block.devices[k].gemm_efficiency, block.devices[k].kernel_overhead_s) == \
            (d.gemm_efficiency, d.kernel_overhead_s)
