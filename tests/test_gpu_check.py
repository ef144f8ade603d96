"""benchmarks/gpu_check.sh runs anywhere: on a machine without CUDA every section says SKIP and why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_skips_each_section_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: run the script itself")
    res = tmp_path / "gpu_results.txt"
    env = {**os.environ, "PYTHON": sys.executable}
    r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(res)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    text = res.read_text()
    for name in ("env", "nvml", "train3", "overhead", "resnet18", "calibrate"):
        assert f"[{name}] SKIP:" in text, text
    assert "Traceback" not in text + r.stderr
