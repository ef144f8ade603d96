"""The shipped examples work as the README pastes them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_my_board_is_a_complete_valid_device_file():
    from zerofl_profiler.hardware_models.catalogue import resolve_device_file

    profiles = resolve_device_file(str(ROOT / "examples" / "my-board.toml"))
    assert profiles and all(p.name.startswith("my-board") for p in profiles)
    text = (ROOT / "examples" / "my-board.toml").read_text()
    assert 'kind = "assumption"' in text  # placeholders are declared as such


def test_train_step_example_trains(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "train_step.py"), "--steps", "5"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "trained 5 SWAT steps at sparsity 0.9" in r.stdout
    assert list(tmp_path.iterdir()) == []  # writes nothing
