"""`zerofl-profile calibrate`: a --quick run writes a device file usable everywhere; bad input exits 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zerofl_profiler.cli import main
from zerofl_profiler.hardware_models.spec import load_device_file


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, **(env or {}))
    full.pop("ZEROFL_HOST_DEVICE", None)
    return subprocess.run([sys.executable, "-m", "zerofl_profiler", *args], capture_output=True, text=True,
                          env=full, timeout=300)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One real --quick calibration (robust defaults) to --out, installed as host in a fresh XDG config dir."""
    cfg = tmp_path_factory.mktemp("xdg")
    p = _cli("calibrate", "--quick", "--json", "--rounds", "2", "--out", str(cfg / "cal.toml"), "--install",
             env={"XDG_CONFIG_HOME": str(cfg)})
    return p, cfg


@pytest.mark.slow
def test_quick_calibrate_writes_default_host_file(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    p, cfg = quick_run
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)  # stdout is one JSON document and nothing else
    target = cfg / "zerofl-profiler" / "host.toml"
    assert doc["device_file"] == str(cfg / "cal.toml")
    assert doc["installed_as_host"] == str(target) and doc["replaced"] is None
    assert target.read_bytes() == (cfg / "cal.toml").read_bytes()
    spec = load_device_file(target)
    unit = doc["units"][0]
    assert unit["unit"] == "cpu" and unit["peak_flops"] > 0
    assert spec.profile().peak_flops == pytest.approx(unit["peak_flops"])
    assert spec.profile().kernel_overhead_s == pytest.approx(unit["params"]["kernel_overhead_s"])
    assert {c["kind"] for c in unit["cases"]} >= {"gemm", "conv", "elementwise", "copy", "topk", "step",
                                                  "sparse_step"}
    assert all(c["time_s"] > 0 for c in unit["cases"])
    assert spec.units["cpu"].peak_flops.source.kind == "measured"
    # the CSR kernel against dense over the density grid, written as a measured curve
    curve = spec.units["cpu"].sparse_efficiency_curve
    assert spec.schema == 2 and curve is not None and curve.source.kind == "measured"
    assert curve.density == (0.01, 0.05, 0.1, 0.2, 0.5) and all(0.0 <= e <= 1.0 for e in curve.efficiency)
    pts = unit["sparse_kernel_curve"]["points"]
    assert [p["density"] for p in pts] == [0.5, 0.2, 0.1, 0.05, 0.01] and all(p["sparse_s"] > 0 for p in pts)


@pytest.mark.slow
def test_calibrated_file_works_as_host_and_device_file(quick_run: tuple[subprocess.CompletedProcess[str], Path]) \
        -> None:
    p, cfg = quick_run
    assert p.returncode == 0, p.stderr
    env = {"XDG_CONFIG_HOME": str(cfg)}
    path = str(cfg / "zerofl-profiler" / "host.toml")
    dev = _cli("devices", "--json", env=env)
    assert dev.returncode == 0, dev.stderr
    assert json.loads(dev.stdout)["host_file"] == path
    by_name = _cli("compare", "--model", "cnn", "--batch-size", "8", "--steps", "2", "--sparsity", "0,0.5",
                   "--device", "host", "--json", env=env)
    by_file = _cli("compare", "--model", "cnn", "--batch-size", "8", "--steps", "2", "--sparsity", "0,0.5",
                   "--device-file", path, "--json", env=env)
    assert by_name.returncode == 0, by_name.stderr
    assert by_file.returncode == 0, by_file.stderr
    t_name = [r["time_s"] for r in json.loads(by_name.stdout)["devices"][0]["results"]]
    t_file = [r["time_s"] for r in json.loads(by_file.stdout)["devices"][0]["results"]]
    assert t_name == pytest.approx(t_file) and all(t > 0 for t in t_name)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("args, needle", [
    (["--threads", "2"], "--clock wall"),
    (["--write-catalogue", "x"], "--from-published"),
    (["--clock", "cpu", "--threads", "2"], "--threads 1"),
    (["--threads", "0"], "--threads"),
    (["--rounds", "0"], "--rounds"),
    (["--out", "host.txt"], ".toml"),
    (["--clock", "sundial"], "sundial"),
])
def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    code, out, err = _run(capsys, "calibrate", *args)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.strip().count("\n") == 0 and needle in err
    assert "Traceback" not in err


def test_unwritable_out_is_exit_2_before_timing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(capsys, "calibrate", "--quick", "--out", str(blocker / "host.toml"))
    assert code == 2 and "cannot write" in err and err.strip().count("\n") == 0


def test_install_follows_host_env(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """--install targets $ZEROFL_HOST_DEVICE when set (checked before any timing); without it nothing is installed."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("ZEROFL_HOST_DEVICE", str(blocker / "mine.toml"))
    code, _, err = _run(capsys, "calibrate", "--quick", "--out", str(tmp_path / "cal.toml"), "--install")
    assert code == 2 and str(blocker / "mine.toml") in err


def test_install_says_what_it_replaced(tmp_path: Path) -> None:
    from zerofl_profiler.calibration.device_file import install_host

    new = tmp_path / "new.toml"
    new.write_text('display_name = "host CPU: X (calibrated 2026-12-01)"\n')
    target = tmp_path / "cfg" / "host.toml"
    assert install_host(new, target) is None
    old = target.read_text()
    new.write_text('display_name = "host CPU: Y (calibrated 2026-12-02)"\n')
    msg = install_host(new, target)
    assert msg == f"replaced {target} (host CPU: X (calibrated 2026-12-01))" and old != target.read_text()
