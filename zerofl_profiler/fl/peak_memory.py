"""Peak memory of a client's training window: the process's peak RSS on Linux, else nothing.

Linux keeps the resident-set high-water mark (``VmHWM`` in /proc/self/status); writing ``5`` to
/proc/self/clear_refs resets it to the current RSS, so reset-then-read brackets one window. The
figure is the whole process's peak resident memory during the window (model, data and
interpreter included), labelled ``mem_source = "rss"``. Where either file is missing or refused
the window reports ``None`` with ``mem_source = "none"``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

CLEAR_REFS = "/proc/self/clear_refs"
STATUS = "/proc/self/status"


@dataclass
class PeakMemory:
    """What a window measured: bytes and where they came from (``rss`` or ``none``)."""

    peak_bytes: int | None = None
    source: str = "none"


def _reset() -> bool:
    try:
        with open(CLEAR_REFS, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _read_hwm() -> int | None:
    try:
        with open(STATUS) as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # the kernel reports kB
    except (OSError, ValueError, IndexError):
        return None
    return None


@contextlib.contextmanager
def peak_rss() -> Iterator[PeakMemory]:
    """Measure the process's peak RSS over the block (filled in when the block exits)."""
    out = PeakMemory()
    ok = _reset()
    try:
        yield out
    finally:
        if ok:
            peak = _read_hwm()
            if peak is not None:
                out.peak_bytes, out.source = peak, "rss"
