"""Where a run happened: the fingerprint config.toml records so timings can be compared honestly."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's marketing name (from /proc/cpuinfo on Linux, else platform)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_commit() -> str | None:
    """The package checkout's commit (None when not a git checkout or git is missing)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None


def fingerprint(device: str | None = None) -> dict[str, Any]:
    """Package version and commit, torch version, CPU model, thread count, Python, OS, accelerator."""
    import torch

    from .. import __version__

    fp: dict[str, Any] = {
        "package_version": __version__,
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    commit = git_commit()
    if commit:
        fp["git_commit"] = commit
    if device is not None:
        from .accelerator import accelerator_info

        fp["accelerator"] = accelerator_info(device).to_dict()
    return fp
