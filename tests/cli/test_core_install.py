"""The core install (no extras) runs train, estimate, report and plot.

Each command runs in a fresh interpreter in which the optional extras (flwr, codecarbon, pandas,
pyarrow, ray) cannot be imported, as on a machine where `pip install .` was run without extras.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXTRAS = ("flwr", "codecarbon", "pandas", "pyarrow", "ray")

BLOCKER = f"""
import sys, importlib.abc, importlib.util
class _Absent(importlib.abc.Loader):
    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {{spec.name!r}}", name=spec.name)
    def exec_module(self, module):
        pass
class _NoExtras(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {EXTRAS!r}:
            return importlib.util.spec_from_loader(name, _Absent())
        return None
sys.meta_path.insert(0, _NoExtras())
from zerofl_profiler.cli import main
main(sys.argv[1:])
"""


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-c", BLOCKER, *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_core_commands_work_without_any_extra(tmp_path: Path) -> None:
    run = tmp_path / "run"
    r = _cli(tmp_path, "train", "--out", str(run), "--rounds", "2", "--clients", "4",
             "--clients-per-round", "2", "--local-epochs", "1", "--quiet", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rounds_completed"] == 2
    r = _cli(tmp_path, "estimate", str(run), "--device", "jetson-nano", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)
    r = _cli(tmp_path, "report", str(run), "--device", "jetson-nano", "--format", "md")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    r = _cli(tmp_path, "plot", str(run), "--out", str(tmp_path / "fig"), "--format", "png",
             "--device", "jetson-nano")
    assert r.returncode == 0, r.stderr
    assert list((tmp_path / "fig").glob("*.png"))


def test_the_codecarbon_backend_names_its_extra_when_missing(tmp_path: Path) -> None:
    r = _cli(tmp_path, "measure", "--backend", "codecarbon", "--", sys.executable, "-c", "pass")
    assert r.returncode == 2 or r.returncode == 1, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "zerofl-profiler[emissions]" in lines[0], r.stderr
