"""benchmarks/gpu_check.sh runs anywhere: without CUDA every section says SKIP and why; the dry run
(GPU_CHECK_DEVICE=cpu) runs the sections' own commands on the CPU with every module outside torch,
numpy, click, rich, matplotlib and nvidia-ml-py made unimportable, writing line by line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("env", "nvml", "train3", "overhead", "resnet18", "calibrate", "semi24", "swat")

#: Installed here, but not on the GPU box gpu_check.sh is written for.
BLOCKER = '''
import importlib.abc, importlib.machinery, sys
BLOCKED = {"tomli_w", "msgspec", "pandas", "pyarrow", "codecarbon", "flwr", "ray", "psutil", "hypothesis",
           "jsonschema", "sklearn", "scipy", "yaml", "pytest"}
class _Missing(importlib.abc.Loader):
    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)
    def exec_module(self, module):
        pass
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        return importlib.machinery.ModuleSpec(name, _Missing()) if name.split(".")[0] in BLOCKED else None
sys.meta_path.insert(0, _Block())
'''


@pytest.mark.slow
def test_gpu_check_skips_each_section_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: run the script itself")
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("GPU_CHECK_DEVICE", None)
    r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "sub/gpu_results.txt"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    res = tmp_path / "sub" / "gpu_results.txt"  # a relative path is the caller's, not the repository's
    text = res.read_text()
    for name in SECTIONS:
        assert f"[{name}] SKIP:" in text, text
    assert text.startswith("[gpu_check] ") and "[gpu_check] done in" in text
    assert "Traceback" not in text + r.stderr


def test_section_budgets_fit_four_minutes() -> None:
    script = (ROOT / "benchmarks" / "gpu_check.sh").read_text()
    budgets = [int(line.split()[2]) for line in script.splitlines() if line.startswith("run ")]
    assert [line.split()[1] for line in script.splitlines() if line.startswith("run ")] == list(SECTIONS)
    assert sum(budgets) + 3 * len(budgets) <= 240 and "GPU_CHECK_TOTAL_S:-225" in script


def test_the_sections_commands_parse_with_this_cli(tmp_path) -> None:
    """Every option a section passes exists (and has a valid value) in this version's CLI."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_sections as g
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    import click

    from zerofl_profiler.cli import cli as group

    assert g.DEVICE == "cuda" or os.environ.get("GPU_CHECK_DEVICE")
    for args in (g.train3_args(tmp_path / "a"), g.resnet18_args(tmp_path / "b", "0.9"), g.calibrate_args(tmp_path / "c.toml")):
        cmd = group.get_command(click.Context(group), args[0])
        assert cmd is not None, args[0]
        cmd.make_context(args[0], list(args[1:]))  # raises click.UsageError on an unknown option or a bad value


@pytest.mark.slow
def test_dry_run_of_the_sections_with_only_the_allowed_modules(tmp_path) -> None:
    (tmp_path / "block").mkdir()
    (tmp_path / "block" / "sitecustomize.py").write_text(BLOCKER)
    res = tmp_path / "out" / "gpu_results.txt"
    res.parent.mkdir()
    env = {**os.environ, "GPU_CHECK_DEVICE": "cpu", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "block"), str(ROOT)])}
    for name, budget in (("env", 30), ("nvml", 20), ("train3", 90), ("overhead", 150), ("calibrate", 60)):
        r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_sections.py"), name, "--results", str(res),
                            "--budget-s", str(budget)], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=budget + 30)
        assert r.returncode == 0, r.stderr
        lines = [ln for ln in res.read_text().splitlines() if ln.startswith(f"[{name}]")]
        assert lines and all(ln.startswith(f"[{name}] DRY RUN (cpu): ") for ln in lines), lines
        body = "\n".join(lines)
        assert "FAILED" not in body and "TIMEOUT" not in body and "Traceback" not in body + r.stderr, body
    text = res.read_text()
    assert "[nvml] DRY RUN (cpu): SKIP:" in text
    assert "train3 PASS: 15 client-rounds" in text
    assert text.count("overhead: ratio of medians") == 4  # wall and CPU time, dense and SWAT
    assert (res.parent / "calibrated.toml").is_file() and "[calibrate] DRY RUN (cpu): calibrate: device file" in text
