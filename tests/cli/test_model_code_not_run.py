"""`--model path.py:factory` runs that file by design; reading or reporting a run never does."""

from __future__ import annotations

import sys

import pytest


from zerofl_profiler.cli import main

MODEL = '''
import os
from pathlib import Path
from torch import nn
Path(os.environ["ZEROFL_TEST_MARKER"]).write_text("imported")
def factory(num_classes=10, input_shape=(1, 8, 8)):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))
'''


def _ok(capsys, *argv: str) -> str:
    try:
        main(list(argv))
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    return capsys.readouterr().out


def test_help_says_a_model_spec_runs_that_code(capsys):
    for cmd in ("train", "flops", "compare"):
        out = _ok(capsys, cmd, "--help")
        assert "runs that module or file" in " ".join(out.split()), cmd


@pytest.mark.slow
def test_reading_and_reporting_a_run_never_imports_its_model(tmp_path, capsys, monkeypatch):
    marker = tmp_path / "imported.txt"
    monkeypatch.setenv("ZEROFL_TEST_MARKER", str(marker))
    model = tmp_path / "evil_model.py"
    model.write_text(MODEL)
    run = tmp_path / "run"
    _ok(capsys, "train", "--out", str(run), "--model", f"{model}:factory", "--rounds", "1", "--clients", "2",
        "--clients-per-round", "2", "--quiet")
    assert marker.exists()  # training does run it
    marker.unlink()
    for name in [m for m in sys.modules if m.startswith("zerofl_user_model_")]:
        monkeypatch.delitem(sys.modules, name)
    _ok(capsys, "report", str(run))
    _ok(capsys, "report", str(run), "--format", "json", "--device", "host")
    _ok(capsys, "estimate", str(run), "--device", "host", "--json")
    _ok(capsys, "plot", str(run), "--out", str(tmp_path / "figs"))
    assert not marker.exists()
    assert not [m for m in sys.modules if m.startswith("zerofl_user_model_")]
