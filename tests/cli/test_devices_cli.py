"""`devices`, `devices show`: listing, sources, JSON, and errors as one line + exit 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardware_models"))
from _devfiles import write_device  # noqa: E402
from _run_cli import run  # noqa: E402


def test_devices_table_lists_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "devices")
    assert r.code == 0
    for name in ("h100", "jetson-agx-orin", "snapdragon-865-gpu", "host", "lte"):
        assert name in r.out


def test_devices_json(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "devices", "--json")
    assert r.code == 0
    doc = json.loads(r.out)
    names = {d["name"] for d in doc["devices"]}
    assert {"t4", "v100", "a100", "h100", "jetson-nano", "snapdragon-888"} <= names
    orin = next(d for d in doc["devices"] if d["name"] == "jetson-agx-orin")
    assert "jetson-agx-orin@30W" in orin["names"]
    assert {n["name"] for n in doc["networks"]} >= {"wifi", "lte", "5g"}


def test_zeus_gpus_are_listed_and_priced(capsys: pytest.CaptureFixture[str]) -> None:
    """The A40, Quadro RTX 6000 and P100 load through the catalogue, and `compare` prices a step on each."""
    r = run(capsys, "devices", "--json")
    assert r.code == 0 and {"a40", "rtx6000", "p100"} <= {d["name"] for d in json.loads(r.out)["devices"]}
    r = run(capsys, "compare", "--model", "cnn", "--batch-size", "8", "--steps", "2", "--sparsity", "0",
            "--device", "a40", "--device", "rtx6000", "--device", "p100", "--json")
    assert r.code == 0, r.err
    rows = {d["device"]: d for d in json.loads(r.out)["devices"]}
    assert set(rows) == {"a40", "rtx6000", "p100"}
    for d in rows.values():
        res = d["results"][0]
        assert res["time_s"] > 0 and res["energy_j"] > 0 and d["memory"]["fits"]
    # the same step, priced per device: the P100 (9.3 TFLOP/s FP32) is never faster than the A40 (37.4)
    assert rows["p100"]["results"][0]["compute_s"] >= rows["a40"]["results"][0]["compute_s"]


def test_show_resolves_mode_and_sources(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "devices", "show", "jetson-agx-orin@30W", "--json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["resolved"]["name"] == "jetson-agx-orin@30W" and doc["resolved"]["active_power_w"] == 30.0
    src = doc["spec"]["units"]["gpu"]["mem_bandwidth_bytes_per_s"]["source"]
    assert src["kind"] == "datasheet" and "204.8" in src["quote"]
    r = run(capsys, "devices", "show", "snapdragon-865-cpu")
    assert r.code == 0 and "assumption" in r.out


def test_show_a_user_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write_device(tmp_path, name="mine")
    r = run(capsys, "devices", "show", str(p), "--json")
    assert r.code == 0 and json.loads(r.out)["resolved"]["name"] == "mine"


@pytest.mark.parametrize("args,needle", [
    (("devices", "show", "h200"), "unknown device 'h200' (did you mean 'h100'?); known:"),
    (("devices", "show", "jetson-nano@7W"), "no power mode '7W'"),
    (("devices", "show", "missing.toml"), "no such device file"),
])
def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], args: tuple, needle: str) -> None:
    r = run(capsys, *args)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("error: ") and needle in r.err and r.err.strip().count("\n") == 0


def test_malformed_file_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write_device(tmp_path, text="schema = 1\nname = \"x\"\ncategory = \"cpu\"\nenergy_mode = \"per_op\"\n")
    r = run(capsys, "devices", "show", str(p))
    assert r.code == 2 and "'ram_bytes' is missing" in r.err
