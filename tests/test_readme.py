"""The README's commands work when pasted: every ```bash block runs, in order, in a fresh directory.

Blocks fenced as ```sh are shown, not run: the two set-up commands themselves (this test runs
inside them), and commands that need data that is not shipped or take minutes (calibration).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands(text: str) -> list[str]:
    """Each command of each ```bash block, continuation lines joined, comments and blanks dropped."""
    cmds: list[str] = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                cmds.append(line)
    return cmds


def test_readme_blocks_are_parsed():
    cmds = readme_commands((ROOT / "README.md").read_text())
    assert cmds[0] == "source .venv/bin/activate"
    assert any(c.startswith("zerofl-profile train --out runs/s90") for c in cmds)
    assert all("\\" not in c for c in cmds)
    # every `bash` command names only runs the tour itself creates
    made = {m for c in cmds for m in re.findall(r"train --out (\S+)", c)}
    used = {m for c in cmds if not c.startswith("zerofl-profile train") for m in re.findall(r"\b(runs/\w+)", c)}
    assert used <= made, used - made


@pytest.mark.slow
def test_every_readme_command_works_when_pasted_in_order(tmp_path):
    cmds = readme_commands((ROOT / "README.md").read_text())
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    for cmd in cmds:
        if cmd == "source .venv/bin/activate":  # the test already runs in that environment
            continue
        argv = shlex.split(cmd)
        if argv[0] == "zerofl-profile":
            argv = [sys.executable, "-m", "zerofl_profiler", *argv[1:]]
        elif argv[0] == "python":
            argv = [sys.executable, *argv[1:]]
        r = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"{cmd}\n{r.stderr[-2000:]}"
        assert "Traceback" not in r.stderr, f"{cmd}\n{r.stderr[-2000:]}"
    assert (tmp_path / "report.html").stat().st_size > 0
    assert list((tmp_path / "figures").glob("*.pdf"))
