"""`compare`: the trace-less what-if table and JSON, on a built-in model; errors exit 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _run_cli import run  # noqa: E402


def test_compare_json(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "compare", "--model", "cnn", "--batch-size", "8", "--steps", "5", "--sparsity", "0,0.9",
            "--device", "h100", "--device", "jetson-nano", "--network", "lte", "--upload", "topk-weights",
            "--mask-ratio", "0.1", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    by = {d["device"]: d["results"] for d in doc["devices"]}
    assert set(by) == {"h100", "jetson-nano@MAXN"}
    for res in by.values():
        assert [x["sparsity"] for x in res] == [0.0, 0.9]
        for x in res:
            assert x["time_s"] == pytest.approx(x["compute_s"] + x["comm_s"])
            assert x["energy_j"] == pytest.approx(x["compute_energy_j"] + x["comm_energy_j"])
        assert res[1]["bytes_up"] < res[0]["bytes_up"]  # 20% of the GEMM weights vs all of them
    assert by["h100"][0]["compute_s"] < by["jetson-nano@MAXN"][0]["compute_s"]


def test_compare_table_with_mix(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "compare", "--model", "cnn", "--batch-size", "8", "--steps", "2", "--sparsity", "0.9",
            "--device", "t4", "--device-mix", "jetson-nano=0.5,snapdragon-865-cpu=0.5")
    assert r.code == 0, r.err
    assert "t4" in r.out and "mix(" in r.out


@pytest.mark.parametrize("args,needle", [
    (("--sparsity", "0,1.0", "--device", "h100"), "sparsity must be in [0, 1)"),
    (("--sparsity", "a,b", "--device", "h100"), "malformed --sparsity"),
    (("--device", "nope"), "unknown device 'nope'"),
    (("--device", "h100", "--mask-ratio", "0.1"), "--mask-ratio only applies"),
    (("--device", "h100", "--steps", "0"), "must be positive"),
])
def test_compare_errors(capsys: pytest.CaptureFixture[str], args: tuple, needle: str) -> None:
    r = run(capsys, "compare", "--model", "cnn", "--batch-size", "4", *args)
    assert r.code == 2 and needle in r.err and r.err.strip().count("\n") == 0
