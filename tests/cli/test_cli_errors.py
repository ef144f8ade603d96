"""CLI-wide contract: unknown commands and bad usage are one line on stderr and exit 2."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerofl_profiler", *args], capture_output=True, text=True)


def test_unknown_command_is_one_line() -> None:
    p = run_cli("no-such-command")
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0
    assert p.stderr.startswith("error: ")
    assert "Traceback" not in p.stderr


def test_help_lists_every_command() -> None:
    p = run_cli("--help")
    assert p.returncode == 0
    for name in ("flops", "train", "devices", "estimate", "compare", "calibrate", "measure", "report", "plot"):
        assert name in p.stdout
