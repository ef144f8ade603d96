"""`estimate RUN_DIR|TRACE`: tables, JSON (time and energy with compute/comm parts), errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardware_models"))
from _devfiles import write_device  # noqa: E402
from _run_cli import run  # noqa: E402

from zerofl_profiler.traces import ClientRoundRecord, JsonlWriter  # noqa: E402


def _run_dir(tmp_path: Path, rounds: int = 2, clients: int = 3) -> Path:
    d = tmp_path / "run"
    dense = {"forward": 10**9, "backward_input": 10**9, "backward_weight": 10**9, "elementwise": 10**8,
             "optimizer": 10**7}
    sparse = {**{k: v // 10 for k, v in dense.items()}, "elementwise": 10**8, "optimizer": 10**7}
    with JsonlWriter(d / "trace.jsonl", fsync=False) as w:
        for r in range(rounds):
            for c in range(clients):
                w.write(ClientRoundRecord(
                    run_id="cli", round=r, client_id=c, samples=64, steps=2, batch_sizes=[32, 32], densities={},
                    flops={"dense": {**dense, "total": sum(dense.values()), "topk": 0},
                           "sparse": {**sparse, "total": sum(sparse.values()), "topk": 0}},
                    bytes_up=10**6, bytes_up_dense=4 * 10**6, bytes_down=4 * 10**6, wall_time_s=1.0,
                    cpu_time_s=1.0))
    (d / "config.toml").write_text('[trace]\nengine = "inprocess"\nupload = "dense"\nencoding = "dense"\n'
                                   'model = "cnn"\n', encoding="utf-8")
    return d


def test_estimate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _run_dir(tmp_path)
    r = run(capsys, "estimate", str(d), "--device", "h100", "--device", "jetson-nano", "--network", "wifi",
            "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["basis"] == "totals" and doc["network"] == "wifi" and doc["records"] == 6
    by = {e["device"]: e for e in doc["devices"]}
    h, n = by["h100"]["totals"], by["jetson-nano@MAXN"]["totals"]
    for k in ("time_s", "compute_s", "comm_s", "energy_j", "compute_energy_j", "comm_energy_j", "speedup",
              "energy_saving"):
        assert k in h
    assert h["compute_s"] < n["compute_s"]
    assert len(by["h100"]["rounds"]) == 2
    rd = by["h100"]["rounds"][0]
    assert rd["time_s"] == pytest.approx(rd["compute_s"] + rd["comm_s"])


def test_estimate_table_and_trace_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _run_dir(tmp_path)
    r = run(capsys, "estimate", str(d / "trace.jsonl"), "--device", "snapdragon-865-gpu",
            "--device-mix", "jetson-nano=0.5,snapdragon-865-cpu=0.5")
    assert r.code == 0, r.err
    assert "snapdragon-865-gpu" in r.out and "mix(" in r.out and "device mix" in r.out


def test_estimate_device_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write_device(tmp_path, name="mine")
    r = run(capsys, "estimate", str(_run_dir(tmp_path)), "--device-file", str(p), "--json")
    assert r.code == 0 and json.loads(r.out)["devices"][0]["device"] == "mine"


@pytest.mark.parametrize("extra,needle", [
    (("--device", "nope"), "unknown device 'nope'; known:"),
    (("--device", "h100", "--network", "carrier-pigeon"), "unknown network 'carrier-pigeon'"),
    ((), "nothing to cost on"),
    (("--device-mix", "h100=abc"), "malformed --device-mix share"),
])
def test_estimate_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple, needle: str) -> None:
    r = run(capsys, "estimate", str(_run_dir(tmp_path)), *extra)
    assert r.code == 2 and needle in r.err and r.err.strip().count("\n") == 0


def test_estimate_other_schema_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _run_dir(tmp_path, rounds=1, clients=1)
    obj = json.loads((d / "trace.jsonl").read_text())
    obj["schema_version"] = 99
    (d / "trace.jsonl").write_text(json.dumps(obj) + "\n")
    r = run(capsys, "estimate", str(d), "--device", "h100")
    assert r.code == 2 and "schema version 99" in r.err


def test_estimate_missing_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "estimate", str(tmp_path / "nope"), "--device", "h100")
    assert r.code == 2 and "no such run directory" in r.err


def _run_at_density(tmp_path: Path, density: float) -> Path:
    """A run whose GEMM phases ran at ``density`` (no top-k work), two clients, one round."""
    d = tmp_path / f"run{density:g}"
    dense = {"forward": 10**9, "backward_input": 10**9, "backward_weight": 10**9, "elementwise": 10**8,
             "optimizer": 10**7}
    sparse = {**{k: int(v * density) for k, v in dense.items()}, "elementwise": 10**8, "optimizer": 10**7}
    with JsonlWriter(d / "trace.jsonl", fsync=False) as w:
        for c in range(2):
            w.write(ClientRoundRecord(
                run_id="k", round=0, client_id=c, samples=64, steps=2, batch_sizes=[32, 32], densities={},
                flops={"dense": {**dense, "total": sum(dense.values()), "topk": 0},
                       "sparse": {**sparse, "total": sum(sparse.values()), "topk": 0}},
                bytes_up=10**6, bytes_up_dense=10**6, bytes_down=10**6, wall_time_s=1.0, cpu_time_s=1.0))
    (d / "config.toml").write_text('[trace]\nengine = "inprocess"\nupload = "dense"\nencoding = "dense"\n'
                                   'model = "cnn"\n', encoding="utf-8")
    return d


def test_estimate_on_a_measured_curve_saves_time_only_where_the_kernel_measured_a_speed_up(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Curve: efficiency 0.5 at density 0.01, 0 from 0.05 on; the same device without it has efficiency 0."""
    curve = ('sparse_efficiency_curve = {density = [0.01, 0.05, 0.1], efficiency = [0.5, 0.0, 0.0], '
             'source = {kind = "measured", ref = "test", quote = "test"}}')
    plain = write_device(tmp_path, name="plain", filename="plain.toml", sparse_eff=0.0, overhead=0.0)
    text = (tmp_path / "plain.toml").read_text().replace('schema = 1', 'schema = 2').replace(
        'name = "plain"', 'name = "curved"').replace("\n[units.cpu.efficiency]", curve + "\n\n[units.cpu.efficiency]")
    curved = write_device(tmp_path, text, filename="curved.toml")
    out = {}
    for dens in (0.01, 0.1):
        r = run(capsys, "estimate", str(_run_at_density(tmp_path, dens)), "--device-file", str(curved),
                "--device-file", str(plain), "--json")
        assert r.code == 0, r.err
        doc = json.loads(r.out)
        out[dens] = ({e["device"]: e["totals"] for e in doc["devices"]}, doc["notes"])
    (t01, notes01), (t1, notes1) = out[0.01], out[0.1]
    # by hand: peak 1 GFLOP/s x gemm efficiency 0.5 prices a record's three GEMM phases (1e9 FLOP each) at
    # 6 s dense; at density 0.01 the curve saves 0.5 x (1 - 0.01) of it (one round: the slowest client)
    saved = t01["plain"]["compute_s"] - t01["curved"]["compute_s"]
    assert saved == pytest.approx(3e9 / 0.5e9 * 0.5 * 0.99, rel=1e-6)
    assert t1["curved"]["compute_s"] == pytest.approx(t1["plain"]["compute_s"])  # the dense kernel wins at 0.1
    assert any("curved: at weight density 0.1 " in n and "dense kernel wins" in n for n in notes1)
    assert not any("dense kernel wins" in n for n in notes01)
