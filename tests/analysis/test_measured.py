"""The run's measurements beside the estimate of its own device: matching rule, fixed JSON fields,
values recomputed from trace.jsonl, on a real CPU run and on a run recorded (as a fixture) on an H100."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from _run_cli import run as run_cli  # noqa: E402
from runfactory import write_run  # noqa: E402

from zerofl_profiler.analysis.measured import RunDevice, match_device, name_matches  # noqa: E402
from zerofl_profiler.errors import BadInputError  # noqa: E402

CHECK_KEYS = {"run_device", "run_device_name", "device_recorded", "device", "matched_by", "note", "quantities",
              "memory_distribution"}
QUANTITY_KEYS = {"quantity", "measured", "measured_source", "estimated", "estimated_basis", "ratio"}
MEMORY_KEYS = {"source", "records", "measured", "min_bytes", "median_bytes", "max_bytes"}
H100 = "NVIDIA H100 80GB HBM3"


def _gpu(name: str) -> RunDevice:
    return RunDevice("cuda:0", name, True)


@pytest.mark.parametrize("device, gpu_name, expect", [
    ("h100", H100, True),
    ("h100", "NVIDIA H100 PCIe", True),
    ("h100-gpu", H100, True),  # the device's GPU unit
    ("jetson-agx-orin@30W", "NVIDIA Jetson AGX Orin", True),  # a power mode is the same device
    ("h100-cpu", H100, False),
    ("v100", "Tesla V100-SXM2-32GB", True),
    ("a100", "NVIDIA A100-SXM4-80GB", True),
    ("t4", "Tesla T4", True),
    ("h100", "NVIDIA H200", False),  # another GPU is not the model of this one
    ("a100", "NVIDIA A10", False),
    ("jetson-agx-orin", "Orin", False),  # every part of the name must appear: use --measured-as
    ("host", H100, False),
])
def test_name_matching_rule(device: str, gpu_name: str, expect: bool) -> None:
    assert name_matches(device, _gpu(gpu_name)) is expect


def test_cpu_runs_match_host_only_and_ambiguity_needs_measured_as() -> None:
    cpu = RunDevice("cpu", "cpu", True)
    assert match_device(cpu, ["h100", "host"]).device == "host"
    assert match_device(cpu, ["host-cpu@x"]).device == "host-cpu@x"
    assert match_device(cpu, ["h100"]).device is None
    twice = match_device(_gpu("Tesla V100 / T4 lab box"), ["v100", "t4"])
    assert twice.device is None and "several" in twice.note and "--measured-as" in twice.note
    forced = match_device(_gpu("Orin"), ["jetson-agx-orin"], measured_as="jetson-agx-orin")
    assert forced.device == "jetson-agx-orin" and forced.matched_by == "measured-as"
    with pytest.raises(BadInputError, match="--measured-as a100: not among"):
        match_device(cpu, ["host"], measured_as="a100")


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(ln) for ln in (run_dir / "trace.jsonl").read_text().splitlines()]


def _slowest_per_round_sum(recs: list[dict], key: str) -> float:
    per: dict[int, float] = {}
    for r in recs:
        if r["status"] == "ok":
            per[r["round"]] = max(per.get(r["round"], 0.0), r[key])
    return sum(per.values())


def _time_check(doc: dict, recs: list[dict], device: str, time_key: str) -> dict:
    """The time quantity against the trace (slowest client per round, summed) and the device's compute time."""
    q = doc["measured_vs_estimated"]["quantities"]
    est = next(d for d in doc["devices"] if d["device"] == device)
    assert q["time_s"]["measured"] == pytest.approx(_slowest_per_round_sum(recs, time_key))
    assert q["time_s"]["measured_source"].startswith(time_key)
    assert q["time_s"]["estimated"] == pytest.approx(est["totals"]["compute_s"])
    assert q["time_s"]["ratio"] == pytest.approx(q["time_s"]["measured"] / q["time_s"]["estimated"])
    assert q["peak_mem_bytes"]["estimated"] == pytest.approx(est["memory"][0]["peak"]["total_bytes"])
    return est


def _check_fixed_fields(check: dict) -> None:
    assert set(check) == CHECK_KEYS
    assert set(check["quantities"]) == {"time_s", "energy_j", "peak_mem_bytes"}
    assert all(set(q) == QUANTITY_KEYS for q in check["quantities"].values())
    assert set(check["memory_distribution"]) == MEMORY_KEYS


def test_estimate_json_on_a_real_cpu_run(finished_run: Path, capsys) -> None:
    r = run_cli(capsys, "estimate", str(finished_run), "--device", "host", "--device", "h100", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    check = doc["measured_vs_estimated"]
    _check_fixed_fields(check)
    assert (check["run_device"], check["device"], check["matched_by"]) == ("cpu", "host", "name")
    recs = _records(finished_run)
    q = check["quantities"]
    _time_check(doc, recs, "host", "wall_time_s")
    peaks = [x["peak_mem_bytes"] for x in recs if x["peak_mem_bytes"] is not None]
    if peaks:  # Linux with /proc/self/clear_refs: the records carry the peak RSS
        assert q["peak_mem_bytes"]["measured"] == max(peaks) and "(rss)" in q["peak_mem_bytes"]["measured_source"]
        assert check["memory_distribution"]["source"] == "rss"
    else:
        assert q["peak_mem_bytes"]["measured"] is None and q["peak_mem_bytes"]["ratio"] is None
    assert q["energy_j"]["measured"] is None and q["energy_j"]["ratio"] is None  # default energy = none


def _gpu_run(tmp_path: Path) -> Path:
    return write_run(tmp_path, "h100run", 0.9, rounds=3, clients=6, per_round=3, gpu=H100)


def test_estimate_json_on_a_fake_h100_run(tmp_path: Path, capsys) -> None:
    d = _gpu_run(tmp_path)
    r = run_cli(capsys, "estimate", str(d), "--device", "t4", "--device", "h100", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    check = doc["measured_vs_estimated"]
    _check_fixed_fields(check)
    assert (check["run_device"], check["run_device_name"], check["device"]) == ("cuda:0", H100, "h100")
    recs = _records(d)
    q = check["quantities"]
    h100 = _time_check(doc, recs, "h100", "accelerator_time_s")
    assert q["energy_j"]["measured"] == pytest.approx(sum(x["energy"]["total_j"] for x in recs))
    assert "(nvml)" in q["energy_j"]["measured_source"]
    assert q["energy_j"]["estimated"] == pytest.approx(h100["totals"]["compute_energy_j"])
    assert q["energy_j"]["ratio"] == pytest.approx(q["energy_j"]["measured"] / q["energy_j"]["estimated"])
    assert q["peak_mem_bytes"]["measured"] == max(x["peak_mem_bytes"] for x in recs)
    assert "(cuda)" in q["peak_mem_bytes"]["measured_source"]
    mem = check["memory_distribution"]
    assert mem["source"] == "cuda" and mem["measured"] == mem["records"] == len(recs)
    assert mem["min_bytes"] == min(x["peak_mem_bytes"] for x in recs)
    # The T4 is costed too, but the measurements stand beside the H100 only; --measured-as moves them.
    r2 = run_cli(capsys, "estimate", str(d), "--device", "t4", "--device", "h100", "--measured-as", "t4", "--json")
    c2 = json.loads(r2.out)["measured_vs_estimated"]
    t4 = next(x for x in json.loads(r2.out)["devices"] if x["device"] == "t4")
    assert c2["device"] == "t4" and c2["matched_by"] == "measured-as"
    assert c2["quantities"]["time_s"]["estimated"] == pytest.approx(t4["totals"]["compute_s"])
    bad = run_cli(capsys, "estimate", str(d), "--device", "t4", "--measured-as", "a100")
    assert bad.code == 2 and "--measured-as a100" in bad.err and bad.out == ""


def test_no_matching_device_keeps_the_fields_with_nulls(tmp_path: Path, capsys) -> None:
    d = _gpu_run(tmp_path)
    r = run_cli(capsys, "estimate", str(d), "--device", "a100", "--json")
    check = json.loads(r.out)["measured_vs_estimated"]
    _check_fixed_fields(check)
    assert check["device"] is None and check["matched_by"] == "none" and "--measured-as" in check["note"]
    assert all(q["estimated"] is None and q["ratio"] is None for q in check["quantities"].values())
    assert check["quantities"]["peak_mem_bytes"]["measured"] is not None  # the measurement is still shown
    table = run_cli(capsys, "estimate", str(d), "--device", "h100")
    assert table.code == 0 and "vs estimated on h100" in table.out


def test_report_shows_measured_memory_and_the_check(tmp_path: Path, capsys) -> None:
    d = _gpu_run(tmp_path)
    recs = _records(d)
    r = run_cli(capsys, "report", str(d), "--device", "h100", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    tables = {t["title"]: t for s in doc["sections"] for t in s["tables"]}
    overview = tables["Runs side by side"]
    mem_row = next(row for row in overview["rows"] if row[0].startswith("peak memory/client-round"))
    assert "(cuda)" in mem_row[1]
    check = tables[f"h100run: measured on cuda:0 ({H100}) vs estimated on h100"]
    assert [row[0] for row in check["rows"]] == ["client time", "client energy", "peak memory/client"]
    side = tables["h100run: measured and estimated side by side"]
    peak = next(row for row in side["rows"] if row[0] == "peak memory/client")
    assert "not recorded" not in peak[1] and f"max of {len(recs)} client-rounds" in peak[1]
    # A run with no memory source says so instead of showing a number.
    cpu = write_run(tmp_path, "nomem", 0.9, rounds=2)
    doc = json.loads(run_cli(capsys, "report", str(cpu), "--json").out)
    rows = [row for s in doc["sections"] for t in s["tables"] for row in t["rows"]]
    assert any(row[0].startswith("peak memory/client-round") and row[1].startswith("not measured") for row in rows)


def test_run_device_without_fingerprint_is_the_cpu(tmp_path: Path) -> None:
    from zerofl_profiler.traces import load_run

    d = write_run(tmp_path, "old", 0.9, rounds=2)
    dev = RunDevice.of(load_run(d))
    assert dev.is_host and not dev.recorded
    shutil.rmtree(d)
