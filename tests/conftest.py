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


def write_cifar_dir(root: Path, per_batch: int = 8, test: int = 10, seed: int = 0) -> Path:
    """A tiny data set in the CIFAR-10 python-pickle layout (data_batch_1..5, test_batch, batches.meta).

    Images are class-dependent colour blobs plus noise, so a model can learn something from them.
    """
    import pickle

    import numpy as np

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    protos = rng.integers(0, 256, size=(10, 3072))

    def batch(path: Path, n: int, label: bytes) -> None:
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        noise = rng.integers(-40, 41, size=(n, 3072))
        data = np.clip(protos[labels] + noise, 0, 255).astype(np.uint8)
        with open(path, "wb") as fh:
            pickle.dump({b"batch_label": label, b"labels": labels, b"data": data,
                         b"filenames": [b"img%d.png" % i for i in range(n)]}, fh, protocol=2)

    for i in range(1, 6):
        batch(root / f"data_batch_{i}", per_batch, b"training batch %d of 5" % i)
    batch(root / "test_batch", test, b"testing batch 1 of 1")
    with open(root / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
                                      b"horse", b"ship", b"truck"], b"num_cases_per_batch": per_batch,
                     b"num_vis": 3072}, fh, protocol=2)
    return root


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory):
    """A tiny CIFAR-10-format directory (40 training, 10 test images), made once per session."""
    return write_cifar_dir(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py")
