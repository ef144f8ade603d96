"""Peak memory of this process over a window: the resident-set high-water mark (Linux).

Linux keeps the peak resident set as ``VmHWM`` in /proc/self/status; writing ``5`` to
/proc/self/clear_refs resets it to the current RSS, so reset-then-read brackets one window.
Where /proc is missing (macOS, Windows) both calls say so (False / None) and nothing is measured.
"""

from __future__ import annotations

from pathlib import Path

PROC_SELF = Path("/proc/self")


def reset_rss_peak() -> bool:
    """Reset the process's peak resident set (VmHWM) so a window reads its own peak (Linux only)."""
    try:
        (PROC_SELF / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


def read_rss_peak() -> int | None:
    """VmHWM of this process in bytes, or None where /proc is not there."""
    try:
        for line in (PROC_SELF / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
