"""Device-file schema 2: every new field parsed, range-checked, defaulted (v1 numbers unchanged) and priced."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _devfiles import SRC, device_toml  # noqa: E402

from zerofl_profiler.errors import BadInputError  # noqa: E402
from zerofl_profiler.hardware_models import Costing  # noqa: E402
from zerofl_profiler.hardware_models.devicefile import RANGES, load_device_file  # noqa: E402
from zerofl_profiler.hardware_models.pricing import (  # noqa: E402
    DeviceArrays,
    compute_energy,
    price_step,
    roofline,
    utilisation,
)
from zerofl_profiler.hardware_models.workload import class_index  # noqa: E402


def v2_toml(unit_extra: str = "", tables: str = "", modes: str = "") -> str:
    """A schema-2 device: peak 1e9, bandwidth 1e9, gemm 0.5, elementwise 0.25, idle 1 W, active 3 W."""
    return f"""
schema = 2
name = "toy2"
category = "gpu"
energy_mode = "active_power"
default_mode = "full"
ram_bytes = {{value = 1e9, source = {SRC}}}

[units.gpu]
peak_flops = {{value = 1e9, source = {SRC}}}
mem_bandwidth_bytes_per_s = {{value = 1e9, source = {SRC}}}
kernel_overhead_s = {{value = 1e-3, source = {SRC}}}
sparse_efficiency = {{value = 0.5, source = {SRC}}}
idle_power_w = {{value = 1.0, source = {SRC}}}
active_power_w = {{value = 3.0, source = {SRC}}}
{unit_extra}

[units.gpu.efficiency]
gemm = {{value = 0.5, source = {SRC}}}
elementwise = {{value = 0.25, source = {SRC}}}
{tables}

[modes.full.units.gpu]
[modes.half.units.gpu]
peak_flops = {{value = 5e8, source = {SRC}}}
{modes}
"""


def _spec(tmp_path: Path, text: str, name: str = "toy2.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return load_device_file(p)


def _err(tmp_path: Path, text: str) -> str:
    with pytest.raises(BadInputError) as exc:
        _spec(tmp_path, text)
    msg = str(exc.value)
    assert "\n" not in msg and "toy2.toml" in msg
    return msg


FULL = dict(
    unit_extra=f"""peak_flops_tf32 = {{value = 4e9, source = {SRC}}}
peak_flops_fp16 = {{value = 8e9, source = {SRC}}}
default_runtime = "pytorch-eager"
dynamic_power_w = {{value = 2.0, source = {SRC}}}
sparse_efficiency_curve = {{density = [0.1, 0.5], efficiency = [0.8, 0.0], source = {SRC}}}""",
    tables=f"""[units.gpu.precision]
gemm = "tf32"
[units.gpu.efficiency_curve]
half_work_flops = {{value = 1e6, source = {SRC}}}
[units.gpu.runtimes.mnn]
kernel_overhead_s = {{value = 3e-4, source = {SRC}}}
[units.gpu.runtimes.mnn.efficiency]
gemm = {{value = 0.1, source = {SRC}}}
[units.gpu.runtimes.mnn.precision]
gemm = "fp32"
""",
    modes=f"dynamic_power_w = {{value = 1.0, source = {SRC}}}")


def test_v2_fields_parse_and_flatten(tmp_path: Path) -> None:
    spec = _spec(tmp_path, v2_toml(**FULL))
    assert spec.schema == 2
    u = spec.units["gpu"]
    assert u.peak_flops_tf32.value == 4e9 and u.peak_flops_bf16 is None and u.default_runtime == "pytorch-eager"
    assert u.precision == {"gemm": "tf32"} and u.runtime_names() == ("pytorch-eager", "mnn")
    p = spec.profile()
    assert p.peak("gemm") == 4e9 and p.peak("elementwise") == 1e9 and p.peak("gemm_grouped") == 1e9
    assert p.half_work_flops == 1e6 and p.dynamic_power_w == 2.0 and p.runtime == "pytorch-eager"
    assert p.sparse_curve == ((0.1, 0.5), (0.8, 0.0))
    assert spec.profile(mode="half").dynamic_power_w == 1.0 and spec.profile(mode="half").peak("gemm") == 4e9
    mnn = spec.profile(runtime="mnn")
    assert mnn.kernel_overhead_s == 3e-4 and mnn.eff("gemm") == 0.1 and mnn.eff("elementwise") == 0.25
    assert mnn.peak("gemm") == 1e9 and mnn.half_work_flops == 1e6  # precision overridden, curve inherited
    assert "efficiency_curve.half_work_flops" in u.quantities() and "runtimes.mnn.efficiency.gemm" in u.quantities()
    fp16 = spec.profile(precision="fp16")
    # mixed precision: GEMMs at the 16-bit peak, the other classes on the vector units at peak_flops;
    # 16-bit tensors everywhere but the optimizer (FP32 masters) and top-k
    assert fp16.peak("gemm") == fp16.peak("gemm_grouped") == 8e9
    assert fp16.peak("elementwise") == fp16.peak("optimizer") == 1e9
    assert fp16.bytes_scale("elementwise") == fp16.bytes_scale("gemm") == 0.5
    assert fp16.bytes_scale("optimizer") == fp16.bytes_scale("topk") == 1.0
    tf32 = spec.profile(precision="tf32")
    assert tf32.peak("gemm") == 4e9 and tf32.peak("elementwise") == 1e9
    assert all(tf32.bytes_scale(c) == 1.0 for c in ("gemm", "elementwise"))
    assert spec.to_json()["units"]["gpu"]["runtimes"]["mnn"]["kernel_overhead_s"]["value"] == 3e-4


def test_v2_defaults_price_exactly_like_v1(tmp_path: Path) -> None:
    """A v1 file and the same file as schema 2 (no new field) give identical profiles and prices."""
    v1 = _spec(tmp_path, device_toml(), "toy.toml").profile()
    v2 = _spec(tmp_path, device_toml().replace("schema = 1", "schema = 2"), "toy.toml").profile()
    assert v1 == v2 and v2.dynamic_power_w is None and v2.half_work_flops == 0.0 and v2.sparse_curve is None
    assert all(v2.peak(c) == v2.peak_flops and v2.precision_of(c) == "fp32" for c in ("gemm", "topk"))


def test_precision_errors(tmp_path: Path) -> None:
    spec = _spec(tmp_path, v2_toml(**FULL))
    with pytest.raises(BadInputError, match="peak_flops_bf16"):
        spec.profile(precision="bf16")
    with pytest.raises(BadInputError, match="runtimes: pytorch-eager, mnn"):
        spec.profile(runtime="tflite")
    assert "fp64" in _err(tmp_path, v2_toml(tables='[units.gpu.precision]\ngemm = "fp64"'))


def test_schema2_fields_need_schema_2(tmp_path: Path) -> None:
    text = v2_toml(unit_extra=f"dynamic_power_w = {{value = 2.0, source = {SRC}}}").replace("schema = 2",
                                                                                              "schema = 1")
    assert "units.gpu.dynamic_power_w" in _err(tmp_path, text) and "schema = 2" in _err(tmp_path, text)


@pytest.mark.parametrize("extra, field", [
    (f"sparse_efficiency_curve = {{density = [0.5, 0.1], efficiency = [0.1, 0.2], source = {SRC}}}",
     "sparse_efficiency_curve.density"),
    (f"sparse_efficiency_curve = {{density = [0.1, 0.5], efficiency = [1.5, 0.2], source = {SRC}}}",
     "sparse_efficiency_curve.efficiency[0]"),
    (f"sparse_efficiency_curve = {{density = [0.1], efficiency = [-0.1], source = {SRC}}}",
     "sparse_efficiency_curve.efficiency[0]"),
    (f"sparse_efficiency_curve = {{density = [0.1, 0.5], efficiency = [0.1], source = {SRC}}}",
     "sparse_efficiency_curve"),
    (f"peak_flops_fp16 = {{value = 1e18, source = {SRC}}}", "peak_flops_fp16.value"),
    (f"dynamic_power_w = {{value = 3e4, source = {SRC}}}", "dynamic_power_w.value"),
    ('default_runtime = "Bad Name"', "default_runtime"),
])
def test_v2_field_validation(tmp_path: Path, extra: str, field: str) -> None:
    assert f"'units.gpu.{field}" in _err(tmp_path, v2_toml(unit_extra=extra))


def test_runtime_profile_validation(tmp_path: Path) -> None:
    bad = v2_toml(tables=f"[units.gpu.runtimes.mnn]\nidle_power_w = {{value = 1, source = {SRC}}}")
    assert "'units.gpu.runtimes.mnn.idle_power_w'" in _err(tmp_path, bad)
    dup = v2_toml(unit_extra='default_runtime = "mnn"',
                  tables=f"[units.gpu.runtimes.mnn]\nkernel_overhead_s = {{value = 1e-4, source = {SRC}}}")
    assert "is the default_runtime" in _err(tmp_path, dup)


def test_precision_and_curve_roofline_by_hand(tmp_path: Path) -> None:
    """gemm in tf32 at 4e9 x 0.5 with h = 1e6: (F + h) / 2e9; elementwise stays at 1e9 x 0.25."""
    dev = DeviceArrays.of([_spec(tmp_path, v2_toml(**FULL)).profile()])
    f = np.array([1e6, 1e6, 0.0])
    b = np.array([0.0, 0.0, 5e5])
    cls = np.array([class_index("gemm"), class_index("elementwise"), class_index("gemm")])
    roof = roofline(f, b, cls, dev)[0]
    assert roof.tolist() == pytest.approx([2e6 / 2e9, 2e6 / 2.5e8, 5e5 / 1e9])
    # utilisation: compute-bound rows reach eta x F / (F + h); the byte-only row runs at full bandwidth
    u = utilisation(f, b, cls, dev, roof[None, :])[0]
    assert u.tolist() == pytest.approx([0.5 * 0.5, 0.25 * 0.5, 1.0])


def test_dynamic_power_energy_by_hand(tmp_path: Path) -> None:
    """E = P_idle t + P_dyn sum u_r t_r: a compute-bound row at utilisation 0.25 for 1 ms, 1 ms overhead."""
    dev = DeviceArrays.of([_spec(tmp_path, v2_toml(**FULL)).profile()])
    e = compute_energy(np.array([[2e-3]]), np.array([0.0]), np.array([0.0]), dev, np.array([[0.25 * 1e-3]]))
    assert e[0, 0] == pytest.approx(1.0 * 2e-3 + 2.0 * 0.25e-3)
    flat = DeviceArrays.of([_spec(tmp_path, v2_toml()).profile()])  # no dynamic_power_w: active 3 W x t
    assert compute_energy(np.array([[2e-3]]), np.array([0.0]), np.array([0.0]), flat,
                          np.array([[0.25e-3]]))[0, 0] == pytest.approx(3.0 * 2e-3)


def test_sparse_efficiency_curve_interpolates_and_clamps(tmp_path: Path) -> None:
    dev = DeviceArrays.of([_spec(tmp_path, v2_toml(**FULL)).profile()])
    e = dev.sparse_efficiency(np.array([0.0, 0.1, 0.3, 0.5, 0.9, 1.0]))[0]
    assert e.tolist() == pytest.approx([0.8, 0.8, 0.4, 0.0, 0.0, 0.0])
    assert (e >= 0).all()
    # row-exact sparse time of one gemm row at density 0.3: roof x (1 - 0.4 x 0.7)
    from zerofl_profiler.hardware_models.workload import StepRows

    rows = StepRows(np.array([0]), np.array([class_index("gemm")]), np.array([1e6]), np.array([3e5]),
                    np.array([0.0]), np.array([1.0]), np.zeros(0), np.zeros(0), np.zeros(0),
                    np.zeros(0, dtype=np.int64))
    sp = price_step(rows, dev)
    assert sp.sparse_phase_s[0, 0] == pytest.approx(sp.phase_s[0, 0] * (1 - 0.4 * 0.7))


def test_runtime_and_precision_reach_the_estimate(tmp_path: Path) -> None:
    p = tmp_path / "toy2.toml"
    p.write_text(v2_toml(**FULL), encoding="utf-8")
    c = Costing.from_names(device_files=[str(p)], runtime="mnn", precision="fp16")
    a = c.assumptions()[0]
    assert a["runtime"] == "mnn" and a["energy_basis"].startswith("idle + dynamic")
    assert a["precision"]["gemm"] == "fp16" and a["precision"]["optimizer"] == "fp32"
    assert c.devices[0].kernel_overhead_s == 3e-4 and c.devices[0].peak("gemm") == 8e9


def test_ranges_are_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "devices.md").read_text(encoding="utf-8")
    for field in RANGES:
        assert f"`{field}`" in doc, field


def test_devices_show_lists_the_v2_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zerofl_profiler.cli import main

    p = tmp_path / "toy2.toml"
    p.write_text(v2_toml(**FULL), encoding="utf-8")
    code = 0
    try:
        main(["devices", "show", str(p)])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr().out
    assert code == 0
    for field in ("units.gpu.sparse_efficiency_curve", "units.gpu.precision", "runtimes.mnn.kernel_overhead_s",
                  "units.gpu.peak_flops_tf32", "units.gpu.dynamic_power_w"):
        assert field in out, field


def test_dynamic_power_through_a_whole_run(tmp_path: Path) -> None:
    """All rows compute-bound at efficiency 1 (u = 1): idle + dynamic = the flat active power, except that
    kernel overheads draw only idle power: E_flat - E_dyn = P_dyn x (overhead seconds)."""
    from zerofl_profiler.analysis.estimate import estimate_run
    from zerofl_profiler.traces import load_run

    run = load_run(Path(__file__).resolve().parent / "golden" / "run")
    eff = f"[units.gpu.efficiency]\ngemm = {{value = 1.0, source = {SRC}}}\nelementwise = {{value = 1.0, source = {SRC}}}"

    def device(name: str, overhead: float, dynamic: bool) -> str:
        text = v2_toml(unit_extra=f"dynamic_power_w = {{value = 2.0, source = {SRC}}}" if dynamic else "")
        text = text.replace('name = "toy2"', f'name = "{name}"').replace(
            "[units.gpu.efficiency]\ngemm = {value = 0.5, source = " + SRC + "}\nelementwise = {value = 0.25, source = "
            + SRC + "}", eff)
        text = text.replace("mem_bandwidth_bytes_per_s = {value = 1e9", "mem_bandwidth_bytes_per_s = {value = 1e15")
        return text.replace("kernel_overhead_s = {value = 1e-3", f"kernel_overhead_s = {{value = {overhead}")

    files = []
    for name, o, dyn in (("flat", 1e-3, False), ("dyn", 1e-3, True), ("flat0", 0.0, False)):
        p = tmp_path / f"{name}.toml"
        p.write_text(device(name, o, dyn), encoding="utf-8")
        files.append(str(p))
    est = estimate_run(run, Costing.from_names(device_files=files))
    by = {d.device.split("@")[0]: d.total for d in est.devices}
    per_round = est.records / len(est.devices[0].rounds)  # identical clients: times are one client's, energy all
    overhead_s = by["flat"].compute_s - by["flat0"].compute_s
    dense_overhead_s = per_round * (by["flat"].dense_compute_s - by["flat0"].dense_compute_s)
    assert overhead_s > 0 and by["dyn"].compute_s == pytest.approx(by["flat"].compute_s)
    assert by["dyn"].compute_energy_j == pytest.approx(by["flat"].compute_energy_j - 2.0 * per_round * overhead_s,
                                                       rel=1e-9)
    dense_e = {k: by[k].dense_energy_j - by[k].comm_energy_j for k in by}  # no network: comm energy is 0
    assert dense_e["dyn"] == pytest.approx(dense_e["flat"] - 2.0 * dense_overhead_s, rel=1e-9)


def test_break_even_is_the_highest_density_with_a_positive_measured_efficiency(tmp_path: Path) -> None:
    from zerofl_profiler.hardware_models.records import BreakEven, break_even_density

    assert break_even_density((0.01, 0.05, 0.1), (0.3, 0.1, 0.0)) == 0.05
    assert break_even_density((0.01, 0.5), (0.0, 0.0)) is None
    spec = _spec(tmp_path, v2_toml(**FULL))  # its curve is declared (an assumption), not measured
    be = BreakEven.of(spec, "gpu")
    assert be.density is None and "is assumption, not measured" in be.reason
    assert BreakEven.of(spec, "npu").density is None


def test_dispatch_parses_inherits_and_prices(tmp_path: Path) -> None:
    """`dispatch = "async"`: the unit's runtime overlaps launches with execution; a runtime profile may say serial."""
    text = v2_toml(unit_extra='dispatch = "async"\ndefault_runtime = "cuda"',
                   tables='[units.gpu.runtimes.cpu]\ndispatch = "serial"\n[units.gpu.runtimes.other]\n'
                          f'kernel_overhead_s = {{value = 2e-3, source = {SRC}}}')
    spec = _spec(tmp_path, text)
    assert spec.profile().dispatch == "async" and spec.profile(runtime="cpu").dispatch == "serial"
    assert spec.profile(runtime="other").dispatch == "async"  # unstated: inherits the unit's
    assert spec.profile().assumptions()["dispatch"] == "async"
    # host-bound step: 2 kernels x 1 ms of launches against 0.5 ms of device work
    from zerofl_profiler.hardware_models.workload import StepRows

    z = np.zeros(0)
    rows = StepRows(np.array([0, 0]), np.array([class_index("gemm"), class_index("elementwise")]),
                    np.array([2.5e5, 0.0]), np.array([2.5e5, 0.0]), np.array([0.0, 0.0]), np.array([1.0, 1.0]),
                    z, z, z, np.zeros(0, dtype=np.int64))
    asy = price_step(rows, DeviceArrays.of([spec.profile()]))
    ser = price_step(rows, DeviceArrays.of([spec.profile(runtime="cpu")]))
    assert asy.phase_s[0].sum() == pytest.approx(5e-4) and asy.overhead_s[0] == pytest.approx(2e-3 - 5e-4)
    assert ser.overhead_s[0] == pytest.approx(2e-3)
    assert "'units.gpu.dispatch'" in _err(tmp_path, v2_toml(unit_extra='dispatch = "eager"'))


def test_16bit_rows_move_half_the_bytes(tmp_path: Path) -> None:
    """--precision fp16: a memory-bound elementwise row takes half the time; the optimizer row does not."""
    dev32 = DeviceArrays.of([_spec(tmp_path, v2_toml(**FULL)).profile(precision="fp32")])
    dev16 = DeviceArrays.of([_spec(tmp_path, v2_toml(**FULL)).profile(precision="fp16")])
    f = np.array([0.0, 0.0])
    b = np.array([1e6, 1e6])
    cls = np.array([class_index("elementwise"), class_index("optimizer")])
    assert roofline(f, b, cls, dev16)[0].tolist() == pytest.approx([0.5e-3, 1e-3])
    assert roofline(f, b, cls, dev32)[0].tolist() == pytest.approx([1e-3, 1e-3])


def test_dispatch_unit_parses_inherits_and_prices(tmp_path: Path) -> None:
    """`dispatch_unit = "op"`: the overhead is paid per counted aten op; absent it is per row, as before."""
    from zerofl_profiler.hardware_models.workload import StepRows

    text = v2_toml(unit_extra='dispatch_unit = "op"\ndefault_runtime = "eager"',
                   tables='[units.gpu.runtimes.rows]\ndispatch_unit = "row"\n[units.gpu.runtimes.other]\n'
                          f'kernel_overhead_s = {{value = 2e-3, source = {SRC}}}')
    spec = _spec(tmp_path, text)
    op, row, other = spec.profile(), spec.profile(runtime="rows"), spec.profile(runtime="other")
    assert (op.dispatch_unit, row.dispatch_unit, other.dispatch_unit) == ("op", "row", "op")
    assert _spec(tmp_path, v2_toml(), "plain.toml").profile().dispatch_unit == "row"
    assert op.assumptions()["dispatch_unit"] == "op"
    z = np.zeros(0)
    args = (np.array([0, 0]), np.array([class_index("gemm"), class_index("elementwise")]),
            np.array([2.5e5, 0.0]), np.array([2.5e5, 0.0]), np.array([0.0, 8.0]), np.array([1.0, 1.0]),
            z, z, z, np.zeros(0, dtype=np.int64))
    counted = StepRows(*args, launches=np.array([7.0, 5.0]))
    plain = StepRows(*args)  # a layers document without launches
    # serial dispatch, 1 ms per dispatch: 12 ops on the op unit, 2 rows on the row unit and wherever none are counted
    assert price_step(counted, DeviceArrays.of([op])).overhead_s[0] == pytest.approx(12e-3)
    assert price_step(counted, DeviceArrays.of([other])).overhead_s[0] == pytest.approx(24e-3)
    assert price_step(counted, DeviceArrays.of([row])).overhead_s[0] == pytest.approx(2e-3)
    assert price_step(plain, DeviceArrays.of([op])).overhead_s[0] == pytest.approx(2e-3)
    both = price_step(counted, DeviceArrays.of([op, row]))
    assert both.overhead_s == pytest.approx([12e-3, 2e-3])
    for v1_priced in (price_step(counted, DeviceArrays.of([row])), price_step(plain, DeviceArrays.of([row]))):
        assert v1_priced.overhead_s[0] == pytest.approx(price_step(plain, DeviceArrays.of([row])).overhead_s[0])
    assert "'units.gpu.dispatch_unit'" in _err(tmp_path, v2_toml(unit_extra='dispatch_unit = "kernel"'))
    v1 = device_toml(name="toy2").replace("[units.cpu]", '[units.cpu]\ndispatch_unit = "op"', 1)
    assert "schema = 2" in _err(tmp_path, v1)


def test_gemm_algorithm_parses_and_inherits(tmp_path: Path) -> None:
    """`gemm_algorithm` on a unit or a runtime profile; an unknown name or a schema-1 file is one line."""
    text = v2_toml(unit_extra='default_runtime = "cuda"',
                   tables='[units.gpu.runtimes.mnn]\ngemm_algorithm = "mnn-strassen"\n[units.gpu.runtimes.other]\n'
                          f'kernel_overhead_s = {{value = 2e-3, source = {SRC}}}')
    spec = _spec(tmp_path, text)
    assert spec.profile().gemm_algorithm == "direct" and "gemm_algorithm" not in spec.profile().assumptions()
    assert spec.profile(runtime="mnn").gemm_algorithm == "mnn-strassen"
    assert spec.profile(runtime="mnn").assumptions()["gemm_algorithm"] == "mnn-strassen"
    assert spec.profile(runtime="other").gemm_algorithm == "direct"
    assert "'units.gpu.gemm_algorithm'" in _err(tmp_path, v2_toml(unit_extra='gemm_algorithm = "winograd"'))
