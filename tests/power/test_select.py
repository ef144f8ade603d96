"""Backend selection: registry, cached availability with reasons, auto precedence, explicit names."""

from __future__ import annotations

import pytest

from zerofl_profiler.errors import BadInputError, HardwareError
from zerofl_profiler.power import NullMeter, available_backends, make_meter
from zerofl_profiler.power import base
from zerofl_profiler.power.base import BackendStatus, register_backend


def _with_probe(monkeypatch, name, probe):
    from dataclasses import replace

    base.backend_entry(name)
    monkeypatch.setitem(base.BACKENDS, name, replace(base.BACKENDS[name], probe=probe))


@pytest.fixture
def no_gpu(monkeypatch):
    """Pretend NVML is absent, whatever this machine has."""
    _with_probe(monkeypatch, "nvml", lambda: BackendStatus("nvml", False, "test: no GPU"))


def test_every_backend_is_listed_with_a_reason(no_gpu, tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROFL_POWERCAP_ROOT", str(tmp_path / "none"))
    rows = {r.name: r for r in available_backends()}
    assert list(rows) == ["nvml", "rapl", "codecarbon", "estimate", "replay"]
    assert all(r.reason for r in rows.values())
    assert rows["estimate"].available and rows["estimate"].kind == "estimate"
    assert not rows["rapl"].available and "no powercap sysfs" in rows["rapl"].reason


def test_availability_is_cached_per_backend(monkeypatch):
    calls = []

    def probe():
        calls.append(1)
        return BackendStatus("rapl", False, "x")

    _with_probe(monkeypatch, "rapl", probe)
    base.backend_status("rapl")
    base.backend_status("rapl")
    assert len(calls) == 1
    base.backend_status("rapl", refresh=True)
    assert len(calls) == 2


def test_duplicate_registration_is_rejected():
    with pytest.raises(ValueError, match="already registered"):
        register_backend("rapl", probe=lambda: BackendStatus("rapl", True, ""))(lambda **_: None)


def test_auto_prefers_rapl_and_skips_estimate(no_gpu, intel_tree):
    m = make_meter("auto")
    try:
        assert m.sources == ["rapl"]
        assert m.skipped["nvml"] == "test: no GPU"
        assert "estimate" in m.skipped and "codecarbon" in m.skipped
        with m.window("w") as win:
            intel_tree.set("0", 1000 + 3_000_000)
        assert win.result.source == "rapl" and win.result.total_j == pytest.approx(3.0)
        assert win.estimate is None
    finally:
        m.close()


def test_auto_without_counters_falls_back_to_a_labelled_estimate(no_gpu, tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROFL_POWERCAP_ROOT", str(tmp_path / "none"))
    m = make_meter("auto")
    with m.window("w") as win:
        sum(i for i in range(100_000))
    m.close()
    assert m.sources == ["estimate"]
    assert win.result.source == "none" and win.result.total_j is None
    assert set(win.result.skipped) >= {"nvml", "rapl"}
    assert win.estimate.source == "estimate" and win.estimate.total_j > 0


def test_auto_with_unreadable_rapl_records_the_fix(no_gpu, powercap, monkeypatch):
    powercap.zone("0", "package-0", 1000)
    monkeypatch.setattr("zerofl_profiler.power.rapl._read_int",
                        lambda p: (_ for _ in ()).throw(HardwareError("cannot read x: permission denied ... chmod a+r")))
    m = make_meter("auto")
    m.close()
    assert "permission denied" in m.skipped["rapl"]


def test_explicit_unavailable_backend_is_an_error(no_gpu):
    with pytest.raises(HardwareError, match="nvml is not available: test: no GPU"):
        make_meter("nvml")


def test_unknown_backend_and_none():
    with pytest.raises(BadInputError, match="known: auto, none, codecarbon, estimate, nvml, rapl, replay"):
        make_meter("bogus")
    assert isinstance(make_meter("none"), NullMeter)


def test_explicit_backend_with_estimate_alongside(intel_tree):
    m = make_meter("rapl", estimate=True)
    m.close()
    assert m.sources == ["rapl", "estimate"]


def test_nothing_heavy_is_imported_until_a_backend_is_used():
    import subprocess
    import sys

    code = ("import sys, zerofl_profiler.power as p; p.available_backends; "
            "from zerofl_profiler.power import select, rapl, nvml, codecarbon_backend, estimate; "
            "print(sorted(m for m in ('pynvml', 'codecarbon', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
