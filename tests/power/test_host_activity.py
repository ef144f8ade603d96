"""The host-wide activity registry: overlapping training in another process makes a window shared."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from zerofl_profiler.power.host_activity import host_activity

HOLD = """
import sys, time
from zerofl_profiler.power.host_activity import host_activity
with host_activity(sys.argv[1]):
    print("in", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _other(path, hold_s: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(hold_s)], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "in"
    return p


def test_alone_is_exclusive_and_sequential_windows_stay_exclusive(tmp_path):
    f = tmp_path / "activity.json"
    for _ in range(3):
        with host_activity(f) as w:
            pass
        assert w.shared is False


def test_another_process_active_when_the_window_begins_makes_it_shared(tmp_path):
    f = tmp_path / "activity.json"
    p = _other(f, 1.0)
    with host_activity(f) as w:
        pass
    p.wait(timeout=30)
    assert w.shared is True


def test_another_process_starting_inside_the_window_makes_it_shared(tmp_path):
    f = tmp_path / "activity.json"
    with host_activity(f) as w:
        p = _other(f, 0.0)
        p.wait(timeout=30)
    assert w.shared is True
    with host_activity(f) as after:  # the other one has finished: alone again
        pass
    assert after.shared is False


def test_a_dead_process_left_registered_does_not_share_forever(tmp_path):
    f = tmp_path / "activity.json"
    p = _other(f, 60.0)
    p.kill()
    p.wait(timeout=30)
    with host_activity(f) as w:
        pass
    assert w.shared is False


def test_unusable_registry_says_unknown_with_the_reason(tmp_path):
    (tmp_path / "dir").mkdir()
    with host_activity(tmp_path / "dir") as w:
        pass
    assert w.shared is None and "unusable" in w.reason
