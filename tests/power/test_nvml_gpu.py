"""The one real NVML test: runs where an NVIDIA GPU is present, skipped elsewhere."""

from __future__ import annotations

import time

import pytest

from zerofl_profiler.errors import HardwareError
from zerofl_profiler.power import nvml
from zerofl_profiler.power.meter import EnergyMeter

pytestmark = pytest.mark.gpu


def _gpu_backend() -> nvml.NvmlBackend:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    if not nvml.probe().available:
        pytest.skip(f"NVML unavailable: {nvml.probe().reason}")
    return nvml.NvmlBackend()


def test_matmul_loop_energy_and_power_are_plausible():
    import torch

    b = _gpu_backend()
    try:
        meter = EnergyMeter([b], interval_s=0.05)
    except HardwareError as exc:
        pytest.skip(str(exc))
    limits = b.power_limits_w()
    a = torch.randn(8192, 8192, device="cuda")
    with meter:
        torch.cuda.synchronize()
        with meter.window("idle") as idle:
            time.sleep(1.0)
        with meter.window("matmul") as busy:
            t_end = time.perf_counter() + 3.0
            while time.perf_counter() < t_end:
                a = (a @ a).clamp_(-1, 1)
            torch.cuda.synchronize()
    r = busy.result
    print(f"\nNVML {b.method}: idle {idle.result.total_j / idle.result.duration_s:.1f} W, "
          f"matmul {r.total_j:.1f} J over {r.duration_s:.2f} s = {r.total_j / r.duration_s:.1f} W, "
          f"limit {sum(limits.values()):.0f} W, update period {b.update_period_s}")
    assert r.source == "nvml" and r.total_j > 0
    idle_w = idle.result.total_j / idle.result.duration_s
    busy_w = r.total_j / r.duration_s
    assert idle_w < busy_w <= 1.1 * sum(limits.values())
