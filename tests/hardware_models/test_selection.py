"""The library's costing entry point: Costing.from_names, no CLI class, no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.hardware_models import Costing

RUN = Path(__file__).resolve().parent / "golden" / "run"


def test_from_names_resolves_devices_network_and_mix() -> None:
    c = Costing.from_names(["jetson-nano@5W", "h100", "h100"], network="lte",
                           device_mix="jetson-nano=0.5,snapdragon-865-cpu=0.5")
    assert [p.name for p in c.devices] == ["jetson-nano@5W", "h100"]  # duplicates dropped
    assert c.network is not None and c.network.name == "lte"
    assert c.mix is not None and [p.name for p in c.profiles] == ["jetson-nano@5W", "h100", "jetson-nano@MAXN",
                                                                  "snapdragon-865-cpu"]
    assert {a["network"] for a in c.assumptions()} == {"lte"}
    assert Costing.from_names("t4").devices[0].name == "t4"


def test_from_names_errors_are_bad_input() -> None:
    with pytest.raises(BadInputError, match="nothing to cost on"):
        Costing.from_names([])
    with pytest.raises(BadInputError, match="no such runtime profile"):
        Costing.from_names(["h100"], runtime="mnn")
    with pytest.raises(BadInputError, match="peak_flops_fp16"):
        Costing.from_names(["jetson-nano"], precision="fp16")  # a unit with no 16-bit peak declared
    assert Costing.from_names(["h100"], precision="fp16").devices[0].peaks["fp16"] == 989.4e12


def test_costing_imports_neither_torch_nor_the_cli() -> None:
    code = f"""
import sys
from zerofl_profiler.hardware_models import Costing
from zerofl_profiler.hardware_models.rounds import price_population
from zerofl_profiler.analysis.estimate import estimate_run
from zerofl_profiler.traces import load_run
est = estimate_run(load_run({str(RUN)!r}), Costing.from_names(["jetson-nano"], network="lte"))
assert est.devices[0].total.time_s > 0
bad = sorted(m for m in sys.modules if m == "torch" or m.startswith("zerofl_profiler.cli"))
assert not bad, bad
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
