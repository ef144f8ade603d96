"""Under CI=true a test that skips because a module will not import fails; other skips stay skips."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def test_missing_module_skip_fails_under_ci_only(tmp_path):
    shutil.copy(Path(__file__).parent / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "def test_missing():\n    pytest.importorskip('zerofl_no_such_module')\n"
        "def test_gpu():\n    pytest.skip('no CUDA GPU')\n")
    argv = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:xdist", "-p", "no:cacheprovider", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    ci = subprocess.run(argv, env={**env, "CI": "true"}, capture_output=True, text=True, cwd=tmp_path)
    assert ci.returncode == 1 and "1 failed, 1 skipped" in ci.stdout, ci.stdout
    assert "module is missing" in ci.stdout
    local = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert local.returncode == 0 and "2 skipped" in local.stdout, local.stdout
