"""Implausible device numbers are one-line errors (exit 2); no output ever holds inf or NaN."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardware_models"))
from _devfiles import device_toml  # noqa: E402
from _run_cli import run  # noqa: E402

from zerofl_profiler.errors import ZeroflError  # noqa: E402
from zerofl_profiler.hardware_models.results import CostSummary, checked_json  # noqa: E402

RUN = Path(__file__).resolve().parents[1] / "hardware_models" / "golden" / "run"


@pytest.mark.parametrize("field, text", [
    ("units.cpu.active_power_w.value", device_toml(active=1e308)),
    ("units.cpu.kernel_overhead_s.value", device_toml(overhead=1e10)),
    ("units.cpu.peak_flops.value", device_toml(peak=1e18)),
    ("ram_bytes.value", device_toml(ram=1e300)),
])
@pytest.mark.parametrize("command", ["estimate", "compare"])
def test_huge_values_are_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, text: str,
                                   command: str) -> None:
    p = tmp_path / "huge.toml"
    p.write_text(text, encoding="utf-8")
    args = ([command, str(RUN)] if command == "estimate" else [command, "--model", "cnn", "--steps", "1"])
    r = run(capsys, *args, "--device-file", str(p), "--json")
    assert r.code == 2 and r.out == ""
    line = r.err.strip()
    assert "\n" not in line and str(p) in line and f"'{field}'" in line and "Traceback" not in r.err


def test_issue_case_1e308_and_1e10(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Both values at once: the first implausible field is named; nothing printed on stdout."""
    p = tmp_path / "issue.toml"
    p.write_text(device_toml(active=1e308, overhead=1e10), encoding="utf-8")
    for extra in ((), ("--json",)):
        r = run(capsys, "estimate", str(RUN), "--device-file", str(p), *extra)
        assert r.code == 2 and r.out == "" and "inf" not in r.err and "nan" not in r.err.lower()
        assert "must be >= 0 and <= 1 s" in r.err or "<= 20000 W" in r.err


def test_largest_plausible_values_stay_finite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every field at the edge of its range still prices to finite numbers in table and JSON."""
    p = tmp_path / "edge.toml"
    p.write_text(device_toml(active=2e4, idle=2e4, overhead=1.0, peak=1e3, bw=1e3, gemm=1e-9, elementwise=1e-9),
                 encoding="utf-8")
    r = run(capsys, "estimate", str(RUN), "--device-file", str(p), "--network", "lte", "--json")
    assert r.code == 0, r.err
    assert "Infinity" not in r.out and "NaN" not in r.out
    r = run(capsys, "estimate", str(RUN), "--device-file", str(p))
    assert r.code == 0 and "inf" not in r.out + r.err and "nan" not in (r.out + r.err).lower()


def test_json_gate_refuses_non_finite_numbers() -> None:
    with pytest.raises(ZeroflError, match=r"devices\[0\]\.time_s is inf"):
        checked_json({"devices": [{"time_s": math.inf}]})
    cs = CostSummary(*([1.0] * 10 + [math.nan]))
    with pytest.raises(ZeroflError):
        checked_json(cs.to_json())


def test_emit_json_prints_nothing_when_the_document_is_not_finite(capsys: pytest.CaptureFixture[str]) -> None:
    from zerofl_profiler.cli.options import emit_json

    with pytest.raises(ZeroflError, match="non-finite"):
        emit_json({"ok": [1.0] * 1000, "bad": math.nan})
    assert capsys.readouterr().out == ""
