"""NVML backend against create_autospec(pynvml): counter and sampling, CUDA_VISIBLE_DEVICES, errors."""

from __future__ import annotations

import time

import pynvml
import pytest

from zerofl_profiler.errors import HardwareError
from zerofl_profiler.power import nvml
from zerofl_profiler.power.meter import EnergyMeter

nvml_error = pynvml.NVMLError  # NVMLError(code) builds the real subclass for that return code


def _start(fake, visible=None) -> nvml.NvmlBackend:
    b = nvml.NvmlBackend(fake, visible=visible)
    b.update_period_s = {}
    b.start()
    return b


def test_autospec_rejects_wrong_call_signatures(fake_nvml):
    """The fake is the real module's shape: a wrong signature would fail as it does on hardware."""
    with pytest.raises(TypeError):
        fake_nvml.nvmlDeviceGetTotalEnergyConsumption()


def test_counter_mode_reports_millijoule_deltas_per_gpu(fake_nvml, monkeypatch):
    monkeypatch.setattr(nvml, "PROBE_LIMIT_S", 0.0)
    b = _start(fake_nvml)
    assert b.counter == {"gpu0": True, "gpu1": True} and b.method == "counter"
    tok = b.begin("w")
    time.sleep(0.12)  # longer than the assumed update period
    fake_nvml.gpus[0].energy_mj += 12_500
    fake_nvml.gpus[1].energy_mj += 2_000
    (d,) = b.end(tok)
    assert d.domains_j == {"gpu0": pytest.approx(12.5), "gpu1": pytest.approx(2.0)}
    assert d.total_j == pytest.approx(14.5)
    assert not any("shorter" in f for f in d.flags)
    fake_nvml.nvmlInit.assert_called_once_with()


def _fake_clock(monkeypatch, step_s=0.001):
    """A clock that advances ``step_s`` per reading: no real waiting, so machine load cannot skew a timing."""
    state = {"t": 0.0}

    def now() -> float:
        state["t"] += step_s
        return state["t"]
    monkeypatch.setattr(nvml, "now_s", now)
    return state


def test_update_period_is_measured_from_counter_ticks(fake_nvml, monkeypatch):
    """The probe times the counter's tick-to-tick period (on a fake clock, so load cannot skew it)."""
    period = 0.02
    clock = _fake_clock(monkeypatch)
    fake_nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = lambda h: int(clock["t"] / period) * 1000
    b = _start(fake_nvml)
    assert b.update_period_s["gpu0"] == pytest.approx(period, abs=0.003)


def test_a_tick_noticed_late_does_not_shorten_the_period(fake_nvml, monkeypatch):
    """A process descheduled right after it saw a tick reads the clock late; one short period must not win."""
    period, late = 0.02, 0.015
    state = {"t": 0.0, "seen_tick": False, "delayed": False}

    def now() -> float:
        state["t"] += 0.001
        if state["seen_tick"] and not state["delayed"]:  # the clock reading right after the first tick
            state["t"] += late
            state["delayed"] = True
        return state["t"]

    def energy(h):
        v = int(state["t"] / period) * 1000
        state["seen_tick"] = state["seen_tick"] or v > 0
        return v
    monkeypatch.setattr(nvml, "now_s", now)
    fake_nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = energy
    b = _start(fake_nvml)
    assert b.update_period_s["gpu0"] == pytest.approx(period, abs=0.003)  # one period alone would be ~5 ms


def test_window_shorter_than_update_period_is_flagged_not_zero(fake_nvml, monkeypatch):
    monkeypatch.setattr(nvml, "PROBE_LIMIT_S", 0.0)  # counter never ticks -> default period
    b = _start(fake_nvml, visible="0")
    tok = b.begin("tiny")
    (d,) = b.end(tok)  # counter unchanged: a stale reading, not 0 J
    assert d.duration_s < nvml.DEFAULT_UPDATE_PERIOD_S
    assert d.domains_j["gpu0"] == pytest.approx(100.0 * d.duration_s)  # 100 W x duration
    assert d.domains_j["gpu0"] > 0
    assert any(f.startswith("window-shorter-than-nvml-counter-update") for f in d.flags)


def test_sampling_mode_integrates_power_with_the_trapezoid_rule(fake_nvml, monkeypatch):
    for g in fake_nvml.gpus:
        g.counter = False
    b = _start(fake_nvml, visible="1")
    assert b.method == "power-sampling" and b.needs_sampling
    clock = iter([10.0, 11.0, 13.0])
    monkeypatch.setattr(nvml, "now_s", lambda: next(clock))
    b._last_p["gpu0"] = (9.0, 100.0)
    tok = b.begin("w")            # t=10, P=100 W   (9->10 at 100 W = 100 J before the window)
    fake_nvml.gpus[1].power_mw = 200_000
    b.poll()                      # t=11, P=200 W   -> +150 J
    fake_nvml.gpus[1].power_mw = 50_000
    (d,) = b.end(tok)             # t=13, P=50 W    -> +250 J
    assert d.domains_j["gpu0"] == pytest.approx(150.0 + 250.0)
    assert d.duration_s == pytest.approx(3.0)


def test_mixed_counter_and_sampling(fake_nvml, monkeypatch):
    monkeypatch.setattr(nvml, "PROBE_LIMIT_S", 0.0)
    fake_nvml.gpus[1].counter = False
    b = _start(fake_nvml)
    assert b.counter == {"gpu0": True, "gpu1": False}
    assert b.method == "counter+power-sampling"


@pytest.mark.parametrize("env, expect", [
    (None, ["GPU-aaaa1111-0000", "GPU-bbbb2222-0000"]),
    ("1", ["GPU-bbbb2222-0000"]),
    ("1,0", ["GPU-bbbb2222-0000", "GPU-aaaa1111-0000"]),
    ("GPU-bbbb2222-0000", ["GPU-bbbb2222-0000"]),
    ("GPU-bbbb", ["GPU-bbbb2222-0000"]),           # unique prefix, as CUDA accepts
    ("bbbb2222", ["GPU-bbbb2222-0000"]),           # without the GPU- prefix
    ("0,7,1", ["GPU-aaaa1111-0000"]),              # CUDA stops at the first invalid entry
    ("", []),
    ("-1", []),
    ("MIG-GPU-aaaa1111-0000/1/0", ["GPU-aaaa1111-0000"]),  # legacy MIG id -> parent GPU
])
def test_cuda_visible_devices_map_by_uuid(fake_nvml, env, expect):
    gpus, notes = nvml.visible_gpus(fake_nvml, env)
    assert [g.uuid for g in gpus] == expect
    assert [g.key for g in gpus] == [f"gpu{i}" for i in range(len(expect))]


def test_mig_uuid_maps_to_parent_and_is_flagged(fake_nvml, monkeypatch):
    monkeypatch.setattr(nvml, "PROBE_LIMIT_S", 0.0)
    fake_nvml.migs["MIG-1234abcd-5678"] = fake_nvml.gpus[1]
    fake_nvml.migs["MIG-9999abcd-5678"] = fake_nvml.gpus[1]
    gpus, notes = nvml.visible_gpus(fake_nvml, "MIG-1234abcd-5678,MIG-9999abcd-5678")
    assert [g.uuid for g in gpus] == ["GPU-bbbb2222-0000"]  # two instances, one parent, measured once
    assert "mig-instance:parent-gpu-energy" in gpus[0].flags
    assert any("already measured" in n for n in notes)
    b = _start(fake_nvml, visible="MIG-1234abcd-5678")
    tok = b.begin("w")
    time.sleep(0.11)
    (d,) = b.end(tok)
    assert "mig-instance:parent-gpu-energy" in d.flags


def test_index_order_flag_when_several_gpus_and_no_pci_order(fake_nvml, monkeypatch):
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    gpus, _ = nvml.visible_gpus(fake_nvml, "1")
    assert "cuda-index-assumes-pci-bus-order" in gpus[0].flags
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    gpus, _ = nvml.visible_gpus(fake_nvml, "1")
    assert gpus[0].flags == ()


def test_nvml_errors_become_hardware_errors(fake_nvml, monkeypatch):
    monkeypatch.setattr(nvml, "PROBE_LIMIT_S", 0.0)
    b = _start(fake_nvml, visible="0")
    fake_nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = nvml_error(pynvml.NVML_ERROR_GPU_IS_LOST)
    with pytest.raises(HardwareError, match="NVML nvmlDeviceGetTotalEnergyConsumption failed"):
        b.read()


def test_init_failure_is_a_hardware_error_and_probe_reason(fake_nvml, monkeypatch):
    fake_nvml.nvmlInit.side_effect = nvml_error(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    with pytest.raises(HardwareError, match="nvmlInit"):
        nvml.NvmlBackend(fake_nvml, visible=None).start()
    monkeypatch.setattr(nvml, "import_pynvml", lambda: fake_nvml)
    st = nvml.probe()
    assert not st.available and "Driver Not Loaded" in st.reason


def test_unexpected_energy_error_at_start_is_not_taken_for_unsupported(fake_nvml):
    fake_nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = nvml_error(pynvml.NVML_ERROR_NO_PERMISSION)
    with pytest.raises(HardwareError):
        nvml.NvmlBackend(fake_nvml, visible="0").start()


def test_meter_with_fake_nvml_samples_in_the_shared_thread(fake_nvml):
    for g in fake_nvml.gpus:
        g.counter = False
        g.power_mw = 80_000
    b = nvml.NvmlBackend(fake_nvml, visible="0")
    with EnergyMeter([b], interval_s=0.01) as meter:
        with meter.window("w") as win:
            time.sleep(0.2)
        assert meter.sampler.polls >= 5
    assert win.result.source == "nvml" and win.result.method == "power-sampling"
    assert win.result.total_j == pytest.approx(80.0 * win.result.duration_s, rel=0.05)
    fake_nvml.nvmlShutdown.assert_called_once_with()
