"""Who else is training on this host: so an energy window knows whether it had the counters to itself.

RAPL and NVML count for the whole package or GPU, not per process. Two ClientApps of one Flower
deployment (separate SuperNode processes on one machine) that train at the same time each see the
other's joules, so their windows are ``shared``. Every training window registers here, in one
small JSON file under an exclusive ``flock``: who is active now (pid) and how many windows have
started so far. A window is shared if another process was active when it began, or another one
began before it ended. A process that died while registered is dropped when its pid is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ACTIVITY_ENV = "ZEROFL_ACTIVITY_FILE"


def activity_file() -> Path:
    """The host-wide registry (per user; ``$ZEROFL_ACTIVITY_FILE`` overrides it)."""
    return Path(os.environ.get(ACTIVITY_ENV) or Path(tempfile.gettempdir()) / f"zerofl-profiler-activity-{os.getuid()}.json")


@dataclass
class ActivityWindow:
    """Set when the window closes: ``shared`` True/False, or None when the registry was unusable."""

    shared: bool | None = None
    reason: str = ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _update(path: Path, change: Callable[[dict[str, Any]], Any]) -> Any:
    """Read, change and write the registry under an exclusive lock; returns what ``change`` returns."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = b""
        while chunk := os.read(fd, 65536):
            raw += chunk
        try:
            state = json.loads(raw or b"{}")
            if not isinstance(state, dict):
                state = {}
        except ValueError:
            state = {}
        active = {str(k): int(v) for k, v in dict(state.get("active", {})).items() if _alive(int(v))}
        state = {"active": active, "started": int(state.get("started", 0))}
        out = change(state)
        data = json.dumps(state).encode()
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
        return out
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def host_activity(path: str | os.PathLike[str] | None = None) -> Iterator[ActivityWindow]:
    """Register the enclosed training; afterwards ``window.shared`` says whether another process overlapped it."""
    p = Path(path) if path is not None else activity_file()
    win = ActivityWindow()
    token, pid = uuid.uuid4().hex, os.getpid()

    def begin(state: dict[str, Any]) -> tuple[bool, int]:
        others = any(owner != pid for owner in state["active"].values())
        started = state["started"]
        state["active"][token] = pid
        state["started"] = started + 1
        return others, started

    def end(state: dict[str, Any]) -> int:
        state["active"].pop(token, None)
        return state["started"]

    try:
        others_at_start, started_before = _update(p, begin)
    except OSError as exc:
        win.reason = f"host activity registry {p} unusable: {exc.strerror or exc}"
        yield win
        return
    try:
        yield win
    finally:
        try:
            started_after = _update(p, end)
            # our own start is the one increment we made; any other is another window that overlapped ours
            win.shared = others_at_start or started_after - started_before > 1
        except OSError as exc:
            win.reason = f"host activity registry {p} unusable: {exc.strerror or exc}"
