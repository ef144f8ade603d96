"""export: CSV and Parquet read back equal the trace; estimate columns equal `estimate`; missing extras."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tracegen

from zerofl_profiler.traces import load_run
from zerofl_profiler.traces.export import MissingDataExtraError, build_table, check_format, write_csv

DEVICES = ("t4", "jetson-nano")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerofl_profiler", *args], capture_output=True, text=True,
                          env={**os.environ})


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = tmp_path_factory.mktemp("exp") / "run"
    tracegen.write_run(r, 10_000)
    return r


def _raw(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "trace.jsonl").read_text().splitlines()]


def _totals_from_trace(raw: list[dict]) -> dict[str, float]:
    """Per-field totals computed from the JSON lines, with no zerofl_profiler code."""
    return {
        "samples": sum(r["samples"] for r in raw),
        "bytes_up": sum(r["bytes_up"] for r in raw),
        "wall_time_s": sum(r["wall_time_s"] for r in raw),
        "flops_sparse.forward": sum(r["flops"]["sparse"]["forward"] for r in raw),
        "flops_dense.total": sum(r["flops"]["dense"]["total"] for r in raw),
        "density_weight.3": sum(r["densities"]["3"]["weight"] for r in raw if r["densities"]),
        "peak_mem_bytes": sum(r["peak_mem_bytes"] for r in raw if r.get("peak_mem_bytes") is not None),
        "energy_total_j": sum(r["energy"]["total_j"] for r in raw if r["energy"].get("total_j") is not None),
        "extra.encode_time_s": sum(r["extra"]["encode_time_s"] for r in raw if "encode_time_s" in r["extra"]),
        "failed": sum(r["status"] == "failed" for r in raw),
    }


def _estimate_totals(run: Path) -> dict[str, tuple[float, float]]:
    args = ["estimate", str(run), "--json"] + [a for d in DEVICES for a in ("--device", d)]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    return {d["device"]: (d["totals"]["time_s"], d["totals"]["energy_j"]) for d in json.loads(r.stdout)["devices"]}


def _check(cols: dict[str, list], raw: list[dict], rounds: dict[str, list], est: dict) -> None:
    want = _totals_from_trace(raw)
    for k, v in want.items():
        if k == "failed":
            assert sum(s == "failed" for s in cols["status"]) == v
        else:
            assert math.fsum(x for x in cols[k] if x is not None and not (isinstance(x, float) and math.isnan(x))) \
                == pytest.approx(v, rel=1e-12), k
    assert len(cols["round"]) == len(raw)
    assert [int(x) for x in cols["client_id"]] == [r["client_id"] for r in raw]
    for dev, (t, e) in est.items():
        name = [k for k in rounds if k.startswith(f"est.{dev}") and k.endswith(".time_s")
                and ".dense_" not in k][0]
        assert math.fsum(rounds[name]) == pytest.approx(t, rel=1e-9)
        assert math.fsum(rounds[name.replace(".time_s", ".energy_j")]) == pytest.approx(e, rel=1e-9)
        # per client-round energies add up to the run's energy; failed records are not costed
        per = cols[name.replace(".time_s", ".energy_j")]
        assert math.fsum(x for x in per if x is not None and not math.isnan(x)) == pytest.approx(e, rel=1e-9)
        assert sum(1 for x in per if x is None or math.isnan(x)) == want["failed"]


def _read_csv(path: Path) -> dict[str, list]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    head, body = rows[0], rows[1:]

    def conv(v: str):
        if v == "":
            return None
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return v

    return {h: [conv(r[i]) for r in body] for i, h in enumerate(head)}


@pytest.mark.slow
def test_csv_round_trip(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    r = cli("export", str(run), "--out", str(out), *[a for d in DEVICES for a in ("--device", d)])
    assert r.returncode == 0, r.stderr
    _check(_read_csv(out), _raw(run), _read_csv(tmp_path / "t.rounds.csv"), _estimate_totals(run))


@pytest.mark.slow
def test_parquet_round_trip_and_dataframe(run: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    pd = pytest.importorskip("pandas")
    out = tmp_path / "t.parquet"
    r = cli("export", str(run), "--format", "parquet", "--out", str(out),
            *[a for d in DEVICES for a in ("--device", d)])
    assert r.returncode == 0, r.stderr
    cols = pq.read_table(out).to_pydict()
    rounds = pq.read_table(tmp_path / "t.rounds.parquet").to_pydict()
    _check(cols, _raw(run), rounds, _estimate_totals(run))
    assert cols["energy_total_j"].count(None) == sum(1 for x in _raw(run) if x["energy"].get("total_j") is None)
    # the DataFrame API holds the same table as the file (nulls as NaN / None)
    from zerofl_profiler.analysis.estimate import resolve_costing
    from zerofl_profiler.analysis.export import estimate_tables
    from zerofl_profiler.cli.options import CostingSelection

    data = load_run(run)
    extra, _ = estimate_tables(data, resolve_costing(CostingSelection(DEVICES)))
    df = data.to_dataframe(extra=extra)
    back = pd.read_parquet(out)
    assert list(df.columns) == list(back.columns)
    for c in df.columns:
        a, b = df[c].to_numpy(), back[c].to_numpy()
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b.astype(float), err_msg=c)
        else:
            assert [None if x is None or x == "" and y is None else x for x, y in zip(a, b)] == \
                [None if y is None else y for y in b], c


def test_csv_needs_no_extra_and_parquet_names_it(run: Path, tmp_path: Path, monkeypatch) -> None:
    for mod in ("pyarrow", "pyarrow.parquet", "pandas"):
        monkeypatch.setitem(sys.modules, mod, None)  # `import mod` now raises ImportError
    check_format("csv")
    data = load_run(run)
    write_csv(build_table(data, "rounds"), tmp_path / "r.csv")
    with pytest.raises(MissingDataExtraError, match=r"--format parquet needs pyarrow.*'data' extra") as exc:
        check_format("parquet")
    assert exc.value.exit_code == 2 and "\n" not in str(exc.value)
    with pytest.raises(MissingDataExtraError, match=r"to_dataframe\(\) needs pandas.*zerofl-profiler\[data\]"):
        data.to_dataframe()


def test_cli_missing_extra_is_one_line_exit_2_nothing_written(run: Path, tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "pyarrow.py").write_text("raise ImportError('pyarrow hidden for this test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "x.parquet"
    r = subprocess.run([sys.executable, "-m", "zerofl_profiler", "export", str(run), "--out", str(out)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "error: --format parquet needs pyarrow, which is not installed: it comes with the 'data' extra "
        "(pip install 'zerofl-profiler[data]')"]
    assert not out.exists() and not (tmp_path / "x.rounds.parquet").exists()


def test_unknown_suffix_and_mix_are_bad_input(run: Path, tmp_path: Path) -> None:
    r = cli("export", str(run), "--out", str(tmp_path / "t.xlsx"))
    assert r.returncode == 2 and "give --format parquet or --format csv" in r.stderr
    r = cli("export", str(run), "--out", str(tmp_path / "t.csv"), "--device-mix", "t4=0.5,jetson-nano=0.5")
    assert r.returncode == 2 and "--device-mix is not supported" in r.stderr
    assert not list(tmp_path.glob("t*"))
