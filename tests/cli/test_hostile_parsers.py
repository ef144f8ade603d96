"""Hostile files given to the readers: one line naming the file (and line), exit 2, never a traceback.

Everything goes through the real CLI entry point, so these hold whatever reader sits behind it.
"""

from __future__ import annotations

import os
import shutil

import pytest

from zerofl_profiler.cli import main

TINY = ["--rounds", "1", "--clients", "2", "--clients-per-round", "2", "--quiet"]


def _bad_input(capsys, *argv: str) -> str:
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[:2000]
    return lines[0]




@pytest.fixture
def run_copy(finished_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(finished_run, dst)
    return dst


DEEP_JSON = "[" * 200_000 + "\n"
DEEP_TOML = "x = " + "[" * 100_000 + "]" * 100_000 + "\n"


@pytest.mark.parametrize("command", ["report", "estimate", "plot"])
def test_random_bytes_trace_is_one_line_naming_file_and_line(run_copy, tmp_path, capsys, command):
    good = (run_copy / "trace.jsonl").read_bytes()
    (run_copy / "trace.jsonl").write_bytes(good + os.urandom(4096).replace(b"\n", b"\xff") + b"\n")
    extra = {"plot": ["--out", str(tmp_path / "figs")], "estimate": ["--device", "host"]}.get(command, [])
    line = _bad_input(capsys, command, str(run_copy), *extra)
    n = good.count(b"\n") + 1
    assert f"trace.jsonl:{n}:" in line and "UTF-8" in line


@pytest.mark.parametrize("name", ["trace.jsonl", "rounds.jsonl"])
def test_deeply_nested_trace_line_is_one_line(run_copy, capsys, name):
    (run_copy / name).write_text(DEEP_JSON)
    line = _bad_input(capsys, "report", str(run_copy))
    assert f"{name}:1:" in line and "nested too deeply" in line


def test_deeply_nested_layers_json_is_one_line(run_copy, capsys):
    (run_copy / "layers.json").write_text(DEEP_JSON)
    line = _bad_input(capsys, "report", str(run_copy))
    assert "layers.json" in line


def test_deeply_nested_run_config_toml_is_one_line(run_copy, capsys):
    (run_copy / "config.toml").write_text(DEEP_TOML)
    line = _bad_input(capsys, "report", str(run_copy))
    assert "config.toml" in line and "nested too deeply" in line


def test_deeply_nested_device_file_is_one_line(finished_run, tmp_path, capsys):
    f = tmp_path / "deep.toml"
    f.write_text(DEEP_TOML)
    line = _bad_input(capsys, "estimate", str(finished_run), "--device-file", str(f))
    assert str(f) in line and "nested too deeply" in line


def test_binary_device_file_is_one_line(finished_run, tmp_path, capsys):
    f = tmp_path / "bin.toml"
    f.write_bytes(b"\xff\xfe" + os.urandom(512))
    line = _bad_input(capsys, "estimate", str(finished_run), "--device-file", str(f))
    assert str(f) in line


def test_deeply_nested_config_toml_is_one_line(tmp_path, capsys):
    f = tmp_path / "deep.toml"
    f.write_text(DEEP_TOML)
    line = _bad_input(capsys, "train", "--config", str(f), "--out", str(tmp_path / "run"), *TINY)
    assert str(f) in line and "nested too deeply" in line
    assert not (tmp_path / "run").exists()


def test_binary_config_toml_is_one_line(tmp_path, capsys):
    f = tmp_path / "bin.toml"
    f.write_bytes(b"\xff\xfe" + os.urandom(512))
    line = _bad_input(capsys, "train", "--config", str(f), "--out", str(tmp_path / "run"), *TINY)
    assert str(f) in line


def test_resume_over_deeply_nested_last_trace_line_drops_it(run_copy, capsys):
    """A crash-left tail the JSON parser cannot even recurse through is still a partial tail."""
    (run_copy / "checkpoint.pt").unlink()
    with open(run_copy / "trace.jsonl", "a") as fh:
        fh.write(DEEP_JSON)
    try:
        main(["train", "--out", str(run_copy), "--resume", "--quiet"])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    assert "[[[" not in (run_copy / "trace.jsonl").read_text()


def test_resume_over_a_trace_line_with_a_non_integer_round_is_one_line(run_copy, capsys):
    (run_copy / "checkpoint.pt").unlink()
    lines = (run_copy / "trace.jsonl").read_text().splitlines()
    lines[0] = lines[0].replace('"round":1', '"round":"one"')
    (run_copy / "trace.jsonl").write_text("\n".join(lines) + "\n")
    line = _bad_input(capsys, "train", "--out", str(run_copy), "--resume", "--quiet")
    assert "trace.jsonl:1:" in line and "round must be an integer" in line
