"""Shared fixtures of the report and plot tests: small recorded runs written the way the engine
writes them (report/runfactory.py), and an independent plain-json reader (report/rawtrace.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "report"


def load_helper(stem: str):
    """Import tests/report/<stem>.py by path (tests are not a package)."""
    name = f"zerofl_tests_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / f"{stem}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


@pytest.fixture
def factory():
    """The run-directory factory module."""
    return load_helper("runfactory")


@pytest.fixture
def raw():
    """Plain-json readers for expected values."""
    return load_helper("rawtrace")


@pytest.fixture
def sweep(tmp_path):
    """Dense vs 90% vs 95% sparse runs with measured (RAPL) energy."""
    return load_helper("runfactory").write_sweep(tmp_path)
