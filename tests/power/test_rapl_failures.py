"""A RAPL meter that fails after it was asked for: never quiet, never 0 J, never a wrong number.

Explicit ``--backend rapl`` / ``energy = rapl``: exit 1 with one line. ``auto``: the record says
what failed and carries null.
"""

from __future__ import annotations

import shutil
import time

import pytest

from zerofl_profiler.errors import HardwareError
from zerofl_profiler.power import make_meter, rapl




def test_counter_value_above_max_energy_range_is_rejected(powercap):
    powercap.zone("0", "package-0", energy_uj=100, max_range_uj=10_000)
    b = rapl.RaplBackend()
    b.start()
    tok = b.begin("w")
    powercap.set("0", 10_001)
    with pytest.raises(HardwareError, match=r"holds 10001, outside \[0, max_energy_range_uj=10000\]"):
        b.end(tok)
    b.close()


def test_negative_counter_value_is_rejected(powercap):
    powercap.zone("0", "package-0", energy_uj=100, max_range_uj=10_000)
    b = rapl.RaplBackend()
    b.start()
    tok = b.begin("w")
    powercap.set("0", -5)
    with pytest.raises(HardwareError, match="holds -5"):
        b.end(tok)
    b.close()


def test_counter_out_of_range_at_start_is_rejected(powercap):
    powercap.zone("0", "package-0", energy_uj=20_000, max_range_uj=10_000)
    with pytest.raises(HardwareError, match="outside"):
        rapl.RaplBackend().start()


def test_zero_max_energy_range_zone_is_skipped_with_reason(powercap):
    powercap.zone("0", "package-0", energy_uj=5, max_range_uj=0)
    zones, skipped = rapl.discover_zones()
    assert zones == [] and "max_energy_range_uj 0" in skipped["package-0"]


def test_zone_disappearing_mid_window_is_a_failure_not_zero_joules(powercap):
    powercap.zone("0", "package-0", energy_uj=100)
    d = powercap.zone("1", "package-1", energy_uj=100)
    m = make_meter("auto", estimate=False)
    try:
        with m.window("w") as win:
            powercap.set("0", 2_000_100)
            shutil.rmtree(d)  # driver unloaded / socket offlined; the open fd still reads the old value
    finally:
        m.close()
    assert win.result.total_j is None and win.result.source == "none"
    assert "package-1" in win.result.skipped["rapl"] and "disappeared" in win.result.skipped["rapl"]


def test_garbage_counter_mid_window_under_auto_is_null_and_says_why(powercap):
    powercap.zone("0", "package-0", energy_uj=100)
    m = make_meter("auto", estimate=False)
    try:
        with m.window("w") as win:
            powercap.set("0", 5_000)
            (powercap.paths["intel-rapl:0"] / "energy_uj").write_text("garbage\n")
    finally:
        m.close()
    assert win.result.total_j is None and win.result.domains_j == {}
    assert "does not hold an integer" in win.result.skipped["rapl"]


def test_sampler_failure_inside_a_window_voids_that_window_only(powercap):
    powercap.zone("0", "package-0", energy_uj=100)
    m = make_meter("auto", estimate=False, interval_s=0.01)
    f = powercap.paths["intel-rapl:0"] / "energy_uj"
    try:
        with m.window("bad") as bad:
            f.write_text("garbage\n")
            deadline = time.time() + 5
            while not m.sampler.failures.get("rapl") and time.time() < deadline:
                time.sleep(0.01)
            powercap.set("0", 3000)  # the counter recovers before the window ends (one atomic write)
        with m.window("good") as good:
            powercap.set("0", 1_003_000)
    finally:
        m.close()
    assert bad.result.total_j is None and "sampling failed during the window" in bad.result.skipped["rapl"]
    assert good.result.total_j == pytest.approx(1.0)


def test_explicit_rapl_garbage_mid_window_is_exit_1_one_line(powercap, cli, monkeypatch):
    powercap.zone("0", "package-0", energy_uj=100)
    f = powercap.paths["intel-rapl:0"] / "energy_uj"
    code, out, err = cli("measure", "--backend", "rapl", "--", "sh", "-c", f"echo garbage > {f}")
    assert code == 1, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "energy backend rapl failed" in lines[0] and "does not hold an integer" in lines[0]
    assert "Traceback" not in err


def test_explicit_rapl_zone_disappearing_mid_window_is_exit_1(powercap, cli):
    powercap.zone("0", "package-0", energy_uj=100)
    d = powercap.zone("1", "package-1", energy_uj=100)
    code, out, err = cli("measure", "--backend", "rapl", "--json", "--", "rm", "-rf", str(d))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "disappeared" in err


def test_auto_garbage_mid_window_in_measure_json_is_null_not_zero(powercap, cli):
    powercap.zone("0", "package-0", energy_uj=100)
    f = powercap.paths["intel-rapl:0"] / "energy_uj"
    code, out, err = cli("measure", "--backend", "auto", "--no-estimate", "--json", "--",
                          "sh", "-c", f"echo garbage > {f}")
    import json

    assert code == 0, err
    doc = json.loads(out)
    assert code == 0 and doc["energy"]["total_j"] is None and doc["energy"]["domains_j"] == {}
    assert "does not hold an integer" in doc["energy"]["skipped"]["rapl"]
