"""calibration.predict prices a step with hardware_models.pricing: the equations checked by hand on two-row steps."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import numpy as np
import pytest

from zerofl_profiler.calibration.predict import energy_above_idle, price_step, with_fields
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.hardware_models.records import DeviceProfile
from zerofl_profiler.hardware_models.workload import StepRows, class_index

PROFILE = DeviceProfile(name="t", device="t", unit="gpu", mode=None, energy_mode="active_power", peak_flops=1e12,
                        mem_bandwidth_bytes_per_s=1e11, kernel_overhead_s=1e-5, sparse_efficiency=0.0,
                        idle_power_w=10.0, efficiency=MappingProxyType({"gemm": 0.5, "elementwise": 0.1}),
                        ram_bytes=1e9, active_power_w=100.0)


def _rows(classes: tuple[str, ...], flops: list[float], nbytes: list[float], kernels: list[float]) -> StepRows:
    n = len(classes)
    z = np.zeros(0)
    return StepRows(np.zeros(n, dtype=np.int64), np.array([class_index(c) for c in classes]), np.array(flops),
                    np.array(flops), np.array(nbytes), np.array(kernels), z, z, z, np.zeros(0, dtype=np.int64))


ROWS = _rows(("gemm", "elementwise"), [1e9, 1e6], [1e6, 4e8], [1.0, 1.0])


def test_roofline_overhead_and_flat_power() -> None:
    p = price_step(ROWS, PROFILE)
    # gemm compute-bound: 1e9 / (1e12 * 0.5) = 2 ms; elementwise memory-bound: 4e8 / 1e11 = 4 ms
    assert p.time_s == pytest.approx(2e-3 + 4e-3 + 2e-5)
    assert p.overhead_s == pytest.approx(2e-5)
    # utilisation: (1e9/1e12 + 4e8/1e11) / t
    assert p.utilisation == pytest.approx((1e-3 + 4e-3) / p.time_s)
    assert p.power_w == pytest.approx(100.0) and p.energy_j == pytest.approx(100.0 * p.time_s)


def test_dynamic_power_and_energy_above_idle() -> None:
    u = with_fields(PROFILE, dynamic_power_w=50.0)
    p = price_step(ROWS, u)
    assert p.power_w == pytest.approx(10.0 + 50.0 * p.utilisation)
    assert energy_above_idle(p, u) == pytest.approx(50.0 * p.utilisation * p.time_s)


def test_efficiency_curve_applies_to_every_row() -> None:
    p = price_step(ROWS, with_fields(PROFILE, half_work_flops=1e9))
    # gemm: W = h, efficiency 0.25 -> 4 ms; elementwise: (W + h) / (P * 0.1) = 10.01 ms, now above its 4 ms of bytes
    assert p.time_s == pytest.approx(4e-3 + (1e6 + 1e9) / (1e12 * 0.1) + 2e-5)


def test_precision_moves_gemm_to_its_peak_and_halves_16bit_bytes() -> None:
    u = with_fields(PROFILE, peaks={"tf32": 8e12, "fp16": 16e12})
    tf = price_step(ROWS, u.with_precision("tf32"))
    assert tf.time_s == pytest.approx(1e9 / (8e12 * 0.5) + 4e-3 + 2e-5)
    half = price_step(ROWS, u.with_precision("fp16"))
    assert half.time_s == pytest.approx(1e9 / (16e12 * 0.5) + 2e-3 + 2e-5)
    # no bf16 peak on the unit: asking for it is an error naming the field
    with pytest.raises(BadInputError, match="peak_flops_bf16"):
        u.with_precision("bf16")
    with pytest.raises(BadInputError, match="int8"):
        u.with_precision("int8")


def test_async_dispatch_overlaps_launches_with_execution() -> None:
    """Async: a step takes max(sum roof, sum k o): device-bound hides the launches, host-bound shows them."""
    rows = _rows(("gemm", "elementwise"), [1e9, 0.0], [1e6, 1e3], [1.0, 5.0])
    serial = price_step(rows, PROFILE)
    asy = price_step(rows, replace(PROFILE, dispatch="async"))
    assert serial.time_s == pytest.approx(2e-3 + 1e-8 + 6e-5)
    assert asy.time_s == pytest.approx(2e-3 + 1e-8) and asy.overhead_s == 0.0
    host_bound = replace(PROFILE, dispatch="async", kernel_overhead_s=1e-3)  # 6 ms of launches, 2 ms of work
    p = price_step(rows, host_bound)
    assert p.time_s == pytest.approx(6e-3) and p.overhead_s == pytest.approx(6e-3 - 2e-3 - 1e-8)
    assert p.utilisation == pytest.approx((1e-3 + 1e-8) / 6e-3)


def test_utilisation_takes_the_higher_of_flop_and_byte_rates() -> None:
    # compute-bound (2 ms at efficiency 0.5) yet moving bytes at 75% of the bandwidth (1.5 ms of 2)
    rows = _rows(("gemm",), [1e9], [1.5e8], [0.0])
    p = price_step(rows, PROFILE)
    assert p.time_s == pytest.approx(2e-3)
    assert p.utilisation == pytest.approx(1.5e-3 / 2e-3)
