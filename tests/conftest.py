"""Suite-wide set-up: hypothesis profiles, the CI rule for skips, and the report/plot fixtures.

- Hypothesis profiles: ``ci`` (the fuzz suite in well under 60 s; the default when CI=true) and
  ``long`` (many more examples, for local runs); pick one with HYPOTHESIS_PROFILE.
- Under CI=true every extra is installed, so a test that skips because a module cannot be
  imported is a broken install, and fails instead of hiding as a skip.
- Small recorded runs written the way the engine writes them (report/runfactory.py), and an
  independent plain-json reader (report/rawtrace.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("dev", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev"))

#: Skip reasons that mean "an installed extra would not import" (pytest.importorskip's wording and ours).
MISSING_EXTRA = re.compile(r"could not import|No module named|extra is missing|not installed", re.I)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true, a skip because a module is missing is a failure (the install is broken)."""
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("CI") != "true" or not rep.skipped or hasattr(rep, "wasxfail"):
        return
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    if MISSING_EXTRA.search(reason):
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI=true because a module is missing (broken install?): {reason}"

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


@pytest.fixture(autouse=True)
def _own_host_activity_registry(tmp_path_factory, monkeypatch):
    """Each test gets its own host-activity registry: parallel test workers training at once must not
    make each other's energy windows 'shared' (processes a test starts inherit the same file)."""
    monkeypatch.setenv("ZEROFL_ACTIVITY_FILE", str(tmp_path_factory.mktemp("activity") / "activity.json"))


@pytest.fixture
def cli(capfd):
    """Run ``zerofl-profile ARGV`` in-process as the console script would: (exit code, stdout, stderr).

    File-descriptor capture, so a child process's output (``measure``) is captured too."""
    from zerofl_profiler.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = 0
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        cap = capfd.readouterr()
        return code, cap.out, cap.err

    return run


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """One tiny finished run (1 round, 2 clients) for tests that read it; copy it before changing it."""
    from zerofl_profiler.cli import main

    run = tmp_path_factory.mktemp("finished") / "run"
    try:
        main(["train", "--out", str(run), "--rounds", "1", "--clients", "2", "--clients-per-round", "2", "--quiet"])
    except SystemExit as exc:
        assert not exc.code
    return run
