"""`zerofl-profile report` and `plot`: outputs, and one-line errors with exit 2 for bad run dirs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest


def _factory():
    name = "zerofl_tests_runfactory"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parents[1] / "report" / "runfactory.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerofl_profiler", *map(str, args)], capture_output=True, text=True)


def one_line_error(p: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert p.returncode == code, p.stderr
    err = p.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def runs(tmp_path):
    return _factory().write_sweep(tmp_path)


def test_report_markdown_to_stdout_and_html_json_files(runs, tmp_path):
    p = run_cli("report", *runs, "--target-accuracy", "0.8")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("# zerofl-profiler report: dense, sparse90, sparse95")
    assert "| round reaching 80% accuracy (measured) | 4 | 5 | 6 |" in p.stdout
    out = tmp_path / "r.html"
    p = run_cli("report", *runs, "--out", out)
    assert p.returncode == 0 and p.stdout == "" and out.read_text().startswith("<!DOCTYPE html>")
    p = run_cli("report", runs[0], "--format", "json")
    assert json.loads(p.stdout)["runs"][0]["name"] == "dense"


def test_report_json_flag_holds_the_markdown_content(runs):
    md = run_cli("report", *runs, "--target-accuracy", "0.8")
    js = run_cli("report", *runs, "--target-accuracy", "0.8", "--json")
    assert md.returncode == js.returncode == 0 and js.stderr == ""
    doc = json.loads(js.stdout)
    cells = [c for sec in doc["sections"] for t in sec["tables"] for row in t["rows"] for c in row]
    cells += [n for sec in doc["sections"] for n in sec["notes"]] + [sec["title"] for sec in doc["sections"]]
    assert len(cells) > 100
    unescaped = md.stdout.replace("\\", "")
    for c in cells:  # every cell, note and heading of the JSON is in the Markdown (escaping aside)
        assert c in unescaped, c
    md_rows = [line for line in md.stdout.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    json_rows = sum(len(t["rows"]) + 1 for sec in doc["sections"] for t in sec["tables"])
    assert len(md_rows) == json_rows
    assert "disagree" in one_line_error(run_cli("report", runs[0], "--json", "--format", "md"))


def test_report_errors_are_one_line(runs, tmp_path):
    assert "no such run directory" in one_line_error(run_cli("report", tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    assert "not a run directory" in one_line_error(run_cli("report", tmp_path / "empty"))
    bad = runs[1] / "trace.jsonl"
    bad.write_text(bad.read_text() + "{not json\n")
    err = one_line_error(run_cli("report", runs[1]))
    assert "trace.jsonl:25" in err
    (runs[2] / "rounds.jsonl").write_text('{"schema_version": 9, "kind": "round"}\n')
    assert "schema version 9" in one_line_error(run_cli("report", runs[2]))
    (runs[0] / "layers.json").write_text("[1, 2")
    assert "layers.json" in one_line_error(run_cli("report", runs[0]))
    assert "--target-accuracy must be in" in one_line_error(run_cli("report", runs[0], "--target-accuracy", "80"))
    one_line_error(run_cli("report"))  # no run dir at all: usage error
    assert "unknown device" in one_line_error(run_cli("report", _factory().write_run(tmp_path, "ok", 0.9),
                                                      "--device", "no-such-phone")).lower()


def test_plot_writes_files_and_explains_skips(runs, tmp_path):
    out = tmp_path / "figs"
    p = run_cli("plot", *runs, "--out", out, "--format", "png,svg", "--style", "paper-single",
                "--figure", "accuracy", "--figure", "devices", "--device", "jetson-nano")
    assert p.returncode == 0, p.stderr
    files = sorted(Path(x).name for x in p.stdout.split())
    assert files == ["accuracy.png", "accuracy.svg", "devices.png", "devices.svg"]
    assert all((out / f).stat().st_size > 1000 for f in files)
    p = run_cli("plot", runs[0], "--out", out, "--figure", "target")
    assert "pass --target-accuracy" in one_line_error(p)


def test_plot_errors_are_one_line(runs, tmp_path):
    assert "format" in one_line_error(run_cli("plot", runs[0], "--out", tmp_path, "--format", "gif"))
    assert "unknown style" in one_line_error(run_cli("plot", runs[0], "--out", tmp_path, "--style", "poster"))
    assert "unknown figure" in one_line_error(run_cli("plot", runs[0], "--out", tmp_path, "--figure", "pie"))
    assert "no such run directory" in one_line_error(run_cli("plot", tmp_path / "nope", "--out", tmp_path))
    one_line_error(run_cli("plot", runs[0]))  # --out is required
