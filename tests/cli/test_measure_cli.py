"""`zerofl-profile measure`: list, measure a command against a fake RAPL tree, exit codes, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = [sys.executable, "-c", "from zerofl_profiler.cli import main; main()"]


def run(args, env_extra=None, tmp_path=None):
    env = dict(os.environ)
    env["CUDA_VISIBLE_DEVICES"] = ""  # no GPU counts here, whatever the machine
    env["ZEROFL_POWERCAP_ROOT"] = str(tmp_path / "no-powercap") if tmp_path else "/nonexistent"
    env.update(env_extra or {})
    return subprocess.run(EXE + ["measure", *args], capture_output=True, text=True, env=env, timeout=60)


def fake_rapl(tmp_path: Path) -> Path:
    """A one-zone tree: class/powercap/intel-rapl:0 -> devices/.../intel-rapl:0 (package-0)."""
    dev = tmp_path / "devices" / "intel-rapl" / "intel-rapl:0"
    dev.mkdir(parents=True)
    (dev / "name").write_text("package-0\n")
    (dev / "energy_uj").write_text("1000\n")
    (dev / "max_energy_range_uj").write_text("262143328850\n")
    root = tmp_path / "class" / "powercap"
    root.mkdir(parents=True)
    os.symlink(dev, root / "intel-rapl:0")
    return root


def test_list_shows_every_backend_and_why(tmp_path):
    r = run(["--list", "--json"], tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {b["name"]: b for b in json.loads(r.stdout)["backends"]}
    assert set(rows) == {"nvml", "rapl", "codecarbon", "estimate", "replay"}
    assert rows["rapl"]["available"] is False and "no powercap sysfs" in rows["rapl"]["reason"]
    assert rows["nvml"]["available"] is False and rows["nvml"]["reason"]
    table = run(["--list"], tmp_path=tmp_path)
    assert table.returncode == 0 and "rapl" in table.stdout and "estimate" in table.stdout


def test_measures_a_command_with_rapl_and_json(tmp_path):
    root = fake_rapl(tmp_path)
    counter = root / "intel-rapl:0" / "energy_uj"
    child = f"import time; open({str(counter)!r}, 'w').write('5001000'); print('child out'); time.sleep(0.2)"
    r = run(["--backend", "rapl", "--json", "--", sys.executable, "-c", child],
            env_extra={"ZEROFL_POWERCAP_ROOT": str(root)})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # the child's stdout went to stderr
    assert "child out" in r.stderr
    e = doc["energy"]
    assert e["source"] == "rapl" and e["domains_j"] == {"package-0": pytest.approx(5.0)}
    assert e["total_j"] == pytest.approx(5.0)
    assert doc["wall_time_s"] >= 0.2
    assert doc["average_power_w"] == pytest.approx(5.0 / doc["wall_time_s"])
    assert doc["energy_estimate"] is None and doc["exit_code"] == 0


def test_exit_code_is_passed_through_and_table_rendered(tmp_path):
    r = run(["--", sys.executable, "-c", "import sys; sys.exit(7)"], tmp_path=tmp_path)
    assert r.returncode == 7
    assert "exit code" in r.stderr and "estimate" in r.stderr and "skipped rapl" in r.stderr


def test_auto_without_counters_gives_a_labelled_estimate(tmp_path):
    r = run(["--json", "--", sys.executable, "-c", "sum(i*i for i in range(2_000_000))"], tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["energy"]["source"] == "none" and doc["energy"]["total_j"] is None
    assert doc["energy_estimate"]["source"] == "estimate" and doc["energy_estimate"]["total_j"] > 0


@pytest.mark.parametrize("args, msg", [
    ([], "no command to measure"),
    (["--", "definitely-not-a-command-xyz"], "command not found"),
    (["--backend", "bogus", "--", "true"], "unknown energy backend"),
    (["--interval", "-1", "--", "true"], "sampling interval"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, msg):
    r = run(args, tmp_path=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and msg in r.stderr and "Traceback" not in r.stderr


def test_unavailable_explicit_backend_is_one_line_exit_1(tmp_path):
    r = run(["--backend", "rapl", "--", "true"], tmp_path=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("error: energy backend rapl is not available") and r.stderr.count("\n") == 1


@pytest.mark.slow
def test_codecarbon_reports_emissions_offline(tmp_path):
    r = run(["--backend", "codecarbon", "--country", "FRA", "--json", "--",
             sys.executable, "-c", "sum(i*i for i in range(2_000_000))"], tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    blocks = [b for b in (doc["energy"], doc["energy_estimate"]) if b and b["source"] != "none"]
    assert blocks and all(b["method"].startswith("codecarbon:") for b in blocks)
    assert any((b["emissions_g"] or 0) > 0 for b in blocks)
    assert "country:FRA" in blocks[0]["flags"]
