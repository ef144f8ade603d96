"""The Flower engine honours the run directory's lock, and fails before Ray starts."""

from __future__ import annotations

import sys

import pytest

from zerofl_profiler.config import RunConfig
from zerofl_profiler.traces.rundir import LOCK_FILE, RunDir, RunLockedError


def test_flower_refuses_a_locked_run_before_starting_ray(tmp_path) -> None:
    pytest.importorskip("flwr")
    pytest.importorskip("ray")
    from zerofl_profiler.fl.flower import run_flower

    out = tmp_path / "run"
    held = RunDir(out)
    held.acquire()
    try:
        with pytest.raises(RunLockedError, match="being written by PID"):
            run_flower(RunConfig(clients=2, clients_per_round=2, rounds=1, energy="none"), out, progress=False)
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]
        assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()
    finally:
        held.release()
