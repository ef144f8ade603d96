"""The estimate backend: CPU time x host power, from the device model or a labelled assumption."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from zerofl_profiler.power import estimate


def test_power_comes_from_the_host_device_model_when_there_is_one():
    hp = estimate.host_power()
    from zerofl_profiler.hardware_models import get_device

    spec = get_device("host")
    q = spec.units[spec.default_unit].active_power_w
    assert hp.cpu_power_w == pytest.approx(q.value)
    assert hp.cpus == (os.cpu_count() or 1)
    assert "device model" in hp.source


def test_missing_model_falls_back_to_a_named_assumption(monkeypatch):
    import zerofl_profiler.hardware_models as hm

    def boom(name):
        raise KeyError("no such device")

    monkeypatch.setattr(hm, "get_device", boom)
    hp = estimate.host_power()
    assert hp.cpu_power_w == estimate.FALLBACK_CPU_POWER_W
    assert hp.source.startswith("assumption:") and "no such device" in hp.source


def test_energy_is_cpu_seconds_times_power_per_cpu():
    clock = iter([5.0, 6.0, 8.5])
    b = estimate.EstimateBackend(clock=lambda: next(clock), power=estimate.HostPower(30.0, 3, "t"))
    b.start()
    tok = b.begin("w")
    (d,) = b.end(tok)
    assert d.kind == "estimate" and d.domains_j == {"cpu": pytest.approx(2.5 * 10.0)}


def test_cpu_clock_counts_waited_children():
    before = estimate.cpu_time_s()
    subprocess.run([sys.executable, "-c", "sum(i*i for i in range(3_000_000))"], check=True)
    after = estimate.cpu_time_s()
    assert after - before > 0.05
