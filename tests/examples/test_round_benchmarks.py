"""benchmarks/bench_round.py's extrapolation and benchmarks/gpu_round.py run end to end (on the CPU here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _scripts import load_script

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _bench_round():
    return load_script("benchmarks/bench_round.py", "bench_round_script")


def test_extrapolation_is_clients_times_rounds_plus_evaluations():
    x = _bench_round().extrapolate(2.0, 30.0, eval_every=10)
    assert x["round_train_s"] == 20.0  # 10 clients one after another
    assert x["evaluations"] == 70 and x["run_s"] == 20.0 * 700 + 30.0 * 70
    assert _bench_round().extrapolate(1.0, 5.0, eval_every=3, rounds=7)["evaluations"] == 3  # rounds 3, 6, 7


def _gpu_round(*args):
    return subprocess.run([sys.executable, str(BENCH / "gpu_round.py"), *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_gpu_round_runs_on_the_cpu_and_labels_its_extrapolation():
    p = _gpu_round("--accelerator", "cpu", "--samples", "16", "--repeats", "1", "--eval-images", "16", "--json")
    assert p.returncode == 0, p.stderr
    assert "EXTRAPOLATION (not measured)" in p.stdout and "sparse90" in p.stdout
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    assert doc["extrapolated"] is True and set(doc["client_round_s"]) == {"dense", "sparse90"}
    assert all(v > 0 for v in doc["client_round_s"].values())


@pytest.mark.slow
def test_gpu_round_without_the_accelerator_is_one_line():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    p = _gpu_round("--accelerator", "cuda")
    assert p.returncode == 1 and p.stderr.strip().count("\n") == 0 and "no CUDA device" in p.stderr
