"""RAPL against fake powercap trees: discovery, counting, wraps, permissions, missing domains, AMD."""

from __future__ import annotations

import os

import pytest

from zerofl_profiler.errors import HardwareError
from zerofl_profiler.power import rapl
from zerofl_profiler.power.base import backend_status
from zerofl_profiler.power.meter import EnergyMeter


def _backend() -> rapl.RaplBackend:
    b = rapl.RaplBackend()
    b.start()
    return b


def test_discovery_follows_symlinks_and_nests_names(intel_tree):
    zones, skipped = rapl.discover_zones()
    keys = [z.key for z in zones]
    assert keys == ["package-0", "package-0/core", "package-0/uncore", "package-0/dram",
                    "package-1", "package-1/core", "package-1/uncore", "package-1/dram", "psys"]
    assert skipped == {}
    assert all(z.max_range_uj == 262143328850 for z in zones)


def test_normal_counting_per_domain_and_total(intel_tree):
    b = _backend()
    tok = b.begin("w")
    deltas = {"0": 2_000_000, "0:0": 1_500_000, "0:1": 100_000, "0:2": 400_000,
              "1": 3_000_000, "1:0": 2_000_000, "1:1": 0, "1:2": 600_000, "2": 9_000_000}
    start = {"0": 1000, "0:0": 500, "0:1": 100, "0:2": 200, "1": 1000, "1:0": 500, "1:1": 100, "1:2": 200,
             "2": 5000}
    for zid, d in deltas.items():
        intel_tree.set(zid, start[zid] + d)
    (d,) = b.end(tok)
    assert d.domains_j["package-0"] == pytest.approx(2.0)
    assert d.domains_j["package-0/core"] == pytest.approx(1.5)
    assert d.domains_j["package-1/dram"] == pytest.approx(0.6)
    assert d.domains_j["psys"] == pytest.approx(9.0)
    # total = packages + DRAM (core/uncore are inside the package; psys overlaps everything)
    assert d.total_j == pytest.approx(2.0 + 3.0 + 0.4 + 0.6)
    assert d.method == "counter" and d.kind == "measured"


def test_single_wrap_uses_max_energy_range(powercap):
    powercap.zone("0", "package-0", energy_uj=9_000, max_range_uj=10_000)
    b = _backend()
    tok = b.begin("w")
    powercap.set("0", 500)  # 9000 -> 10000 (wrap) -> 500
    (d,) = b.end(tok)
    assert d.domains_j["package-0"] == pytest.approx((10_000 - 9_000 + 500) / 1e6)
    assert b.wraps["package-0"] == 1


def test_several_wraps_in_one_window_are_each_caught_by_polls(powercap):
    powercap.zone("0", "package-0", energy_uj=0, max_range_uj=10_000)
    b = _backend()
    tok = b.begin("long window")
    value, true_uj = 0, 0
    for step in [7_000, 6_000, 9_000, 4_000, 8_500, 3_000]:  # several wraps; each poll sees < one range
        value = (value + step) % 10_000
        true_uj += step
        powercap.set("0", value)
        b.poll()
    (d,) = b.end(tok)
    assert b.wraps["package-0"] == true_uj // 10_000
    assert d.domains_j["package-0"] == pytest.approx(true_uj / 1e6)


def test_wraps_caught_by_the_meter_sampling_thread(powercap):
    """The shared sampler polls on its own; a window spanning several wraps is still right."""
    import time

    powercap.zone("0", "package-0", energy_uj=0, max_range_uj=1_000_000)
    b = rapl.RaplBackend()
    with EnergyMeter([b], interval_s=0.005) as meter:
        with meter.window("w") as win:
            value, total = 0, 0
            for _ in range(12):
                value = (value + 400_000) % 1_000_000
                total += 400_000
                powercap.set("0", value)
                time.sleep(0.06)  # >> interval: the sampler sees every value
        assert meter.sampler.polls > 12
    assert win.result.source == "rapl"
    assert win.result.domains_j["package-0"] == pytest.approx(total / 1e6)
    assert b.wraps["package-0"] == 4


def test_long_poll_gap_is_flagged(powercap, monkeypatch):
    powercap.zone("0", "package-0", energy_uj=0, max_range_uj=1_000)  # wraps within 1 us at 1000 W
    b = _backend()
    tok = b.begin("w")
    powercap.set("0", 10)
    (d,) = b.end(tok)
    assert "rapl-sampling-gap-may-hide-a-wrap" in d.flags


def test_unreadable_counter_is_a_clear_error_with_the_fix(powercap, monkeypatch):
    d = powercap.zone("0", "package-0", 1000)
    os.chmod(d / "energy_uj", 0o400 if os.geteuid() else 0)
    if os.geteuid() == 0:  # root reads anything: deny the way the kernel does for non-root users
        real = type(d).read_text

        def deny(self, *a, **k):
            if self.name == "energy_uj" and not (self.stat().st_mode & 0o044):
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *a, **k)

        real_open = os.open

        def deny_open(path, flags, *a, **k):
            if str(path).endswith("energy_uj") and not (os.stat(path).st_mode & 0o044):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, flags, *a, **k)

        monkeypatch.setattr(type(d), "read_text", deny)
        monkeypatch.setattr(rapl.os, "open", deny_open)
    else:
        os.chmod(d / "energy_uj", 0)
    st = backend_status("rapl")
    assert not st.available
    assert "permission denied" in st.reason and "CVE-2020-8694" in st.reason and "chmod a+r" in st.reason
    with pytest.raises(HardwareError, match="udev"):
        _backend()


def test_missing_domains_are_reported_not_invented(powercap):
    powercap.zone("0", "package-0", 1000)
    powercap.zone("0:0", "core", energy_uj=None)  # domain without a counter
    powercap.zone("0:1", "dram", 10, max_range_uj=None)
    b = _backend()
    assert [z.key for z in b.zones] == ["package-0"]
    assert set(b.skipped) == {"package-0/core", "package-0/dram"}
    assert "no energy_uj" in b.skipped["package-0/core"]
    tok = b.begin("w")
    powercap.set("0", 3000)
    (d,) = b.end(tok)
    assert d.domains_j == {"package-0": pytest.approx(0.002)}
    assert d.total_j == pytest.approx(0.002)


def test_no_tree_or_no_zone_is_unavailable_with_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROFL_POWERCAP_ROOT", str(tmp_path / "absent"))
    assert "no powercap sysfs" in backend_status("rapl", refresh=True).reason
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("ZEROFL_POWERCAP_ROOT", str(tmp_path / "empty"))
    st = backend_status("rapl", refresh=True)
    assert not st.available and "no readable RAPL zone" in st.reason


def test_amd_naming_is_read_the_same_way(make_powercap):
    """AMD Zen: package-N and core zones (same driver), also under a non-intel control-type prefix."""
    pc = make_powercap("amd-rapl")
    pc.zone("0", "package-0", 100, max_range_uj=4294967295)
    pc.zone("0:0", "core", 50, max_range_uj=4294967295)
    b = _backend()
    assert [z.key for z in b.zones] == ["package-0", "package-0/core"]
    tok = b.begin("w")
    pc.set("0", 4294967295 - 10)  # nearly a full range
    b.poll()
    pc.set("0", 90)  # and a wrap
    pc.set("0:0", 1_000_050)
    (d,) = b.end(tok)
    assert d.domains_j["package-0"] == pytest.approx((4294967295 - 10 - 100 + 10 + 90) / 1e6)
    assert d.domains_j["package-0/core"] == pytest.approx(1.0)
    assert d.total_j == pytest.approx(d.domains_j["package-0"])


def test_mmio_duplicate_of_package_is_skipped(intel_tree):
    intel_tree.zone("0", "package-0", 77, ctype="intel-rapl-mmio")
    zones, skipped = rapl.discover_zones()
    assert "intel-rapl-mmio:0" in skipped
    assert sum(z.name == "package-0" for z in zones) == 1


def test_other_powercap_control_types_are_ignored(intel_tree):
    other = intel_tree.base / "devices" / "virtual" / "powercap" / "dtpm" / "dtpm:0"
    other.mkdir(parents=True)
    (other / "name").write_text("soc\n")
    os.symlink(other, intel_tree.root / "dtpm:0")
    zones, skipped = rapl.discover_zones()
    assert len(zones) == 9 and not any("dtpm" in k for k in skipped)
