"""Schema v2: the JSON Schema file is the dataclasses', v1 runs read as before, bad input is one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import tomli_w
import tracegen

from zerofl_profiler.errors import TraceFormatError
from zerofl_profiler.traces import SCHEMA_VERSION, JsonlWriter, TraceInfo, load_run
from zerofl_profiler.traces.schema_file import SCHEMA_PATH, build_schema, render

FIXTURES = Path(__file__).parent / "fixtures"
V1_RUNS = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and p.name.startswith("v1_"))
V1_SCHEMA = json.loads((SCHEMA_PATH.parent / "trace.v1.schema.json").read_text())


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerofl_profiler", *args], capture_output=True, text=True,
                          env={**os.environ})


def test_schema_file_is_generated_from_the_dataclasses() -> None:
    """Fails when schema.py changes without `python -m zerofl_profiler.traces.schema_file`."""
    assert SCHEMA_PATH.read_text() == render()


def test_written_lines_validate_against_the_generated_schema(tmp_path: Path) -> None:
    run = tmp_path / "run"
    tracegen.write_run(run, 40)
    schema = build_schema()
    for name in ("trace.jsonl", "rounds.jsonl"):
        for line in (run / name).read_text().splitlines():
            jsonschema.validate(json.loads(line), schema)
    table = tomllib.loads((run / "config.toml").read_text())["trace"]
    jsonschema.validate(table, {**schema["$defs"]["trace_table"], "$defs": schema["$defs"]})


def test_schema_and_reader_reject_the_same_mutations(tmp_path: Path) -> None:
    from zerofl_profiler.traces.typespec import check
    from zerofl_profiler.traces.schema import ClientRoundRecord

    run = tmp_path / "run"
    tracegen.write_run(run, 5)
    good = json.loads((run / "trace.jsonl").read_text().splitlines()[0])
    schema = build_schema()
    for mutate in (lambda d: d.update(samples=-1), lambda d: d.update(mem_source="gpu"),
                   lambda d: d.update(kind="round"), lambda d: d.update(bogus=1), lambda d: d.pop("schema_version"),
                   lambda d: d["flops"]["dense"].pop("topk"), lambda d: d.update(accelerator_time_s="1")):
        bad = json.loads(json.dumps(good))
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, {"$ref": "#/$defs/client_round", "$defs": schema["$defs"]})
        with pytest.raises(TraceFormatError):
            check(bad, ClientRoundRecord, "")


@pytest.mark.parametrize("run", V1_RUNS, ids=lambda p: p.name)
def test_v1_fixtures_are_real_v1_output(run: Path) -> None:
    for line in (run / "trace.jsonl").read_text().splitlines():
        obj = json.loads(line)
        assert obj["schema_version"] == 1
        jsonschema.validate(obj, V1_SCHEMA)
    assert "trace" not in tomllib.loads((run / "config.toml").read_text())


def _as_v2(v1: Path, out: Path) -> Path:
    """Rewrite a v1 run directory as the v2 writer would (records through the upgrader)."""
    data = load_run(v1)
    out.mkdir()
    cfg = tomllib.loads((v1 / "config.toml").read_text())
    cfg["trace"] = data.trace.to_toml_dict()
    (out / "config.toml").write_text(tomli_w.dumps(cfg))
    shutil.copy(v1 / "layers.json", out / "layers.json")
    with JsonlWriter(out / "trace.jsonl", energy_skipped=data.trace.energy_skipped) as w:
        for r in data.clients:
            w.write(r)
    with JsonlWriter(out / "rounds.jsonl", energy_skipped=data.trace.energy_skipped) as w:
        for r in data.rounds:
            w.write(r)
    return out


@pytest.mark.parametrize("run", V1_RUNS, ids=lambda p: p.name)
def test_v1_runs_load_and_match_their_v2_rewrite(run: Path, tmp_path: Path) -> None:
    v1 = load_run(run)
    assert v1.version == 1 and v1.trace.engine == "inprocess" and v1.trace.model == "cnn"
    raw = [json.loads(x) for x in (run / "trace.jsonl").read_text().splitlines()]
    assert [c.client_id for c in v1.clients] == [r["client_id"] for r in raw]
    assert v1.clients[0].energy.skipped == raw[0]["energy"]["skipped"]
    assert v1.trace.upload == raw[0]["upload"] and v1.trace.encoding == raw[0]["encoding"]
    assert all(c.mem_source == "none" and c.peak_mem_bytes is None for c in v1.clients)
    v2 = load_run(_as_v2(run, tmp_path / "v2"))
    assert v2.version == SCHEMA_VERSION and v2.trace == v1.trace
    assert v2.clients == v1.clients and v2.rounds == v1.rounds
    assert len((tmp_path / "v2" / "trace.jsonl").read_bytes()) < len((run / "trace.jsonl").read_bytes())


@pytest.mark.slow
@pytest.mark.parametrize("run", V1_RUNS, ids=lambda p: p.name)
def test_v1_runs_report_estimate_and_plot_as_their_v2_rewrite(run: Path, tmp_path: Path) -> None:
    v2 = _as_v2(run, tmp_path / "v2")
    for args in (["estimate", "--device", "t4", "--device", "jetson-nano", "--network", "wifi", "--json"],
                 ["report", "--device", "t4", "--format", "json"]):
        a, b = cli(args[0], str(run), *args[1:]), cli(args[0], str(v2), *args[1:])
        assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
        # the only intended difference: where the run lives
        ja, jb = json.loads(a.stdout.replace(str(run), "RUN")), json.loads(b.stdout.replace(str(v2), "RUN"))
        for doc in (ja, jb):
            for r in doc.get("runs", []):
                r.pop("path", None)
        assert ja == jb
    p = cli("plot", str(run), "--out", str(tmp_path / "figs"))
    assert p.returncode == 0, p.stderr


def test_v2_trace_without_trace_table_is_one_line_exit_2(tmp_path: Path) -> None:
    run = tmp_path / "run"
    tracegen.write_run(run, 20)
    cfg = tomllib.loads((run / "config.toml").read_text())
    del cfg["trace"]
    (run / "config.toml").write_text(tomli_w.dumps(cfg))
    with pytest.raises(TraceFormatError, match=r"config.toml: no \[trace\] table"):
        load_run(run)
    r = cli("export", str(run), "--format", "csv", "--out", str(tmp_path / "out.csv"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "[trace]" in r.stderr
    assert not list(tmp_path.glob("out*"))


def _run_with_line(tmp_path: Path, index: int, **changes: object) -> Path:
    """A 20-record run whose line ``index`` (0-based) has ``changes`` applied."""
    run = tmp_path / "run"
    if not run.exists():
        tracegen.write_run(run, 20)
    lines = (run / "trace.jsonl").read_text().splitlines()
    bad = json.loads(lines[index])
    bad.update(changes)
    lines[index] = json.dumps(bad)
    (run / "trace.jsonl").write_text("\n".join(lines) + "\n")
    return run


def test_record_of_an_unknown_schema_version_is_one_line_exit_2(tmp_path: Path) -> None:
    run = _run_with_line(tmp_path, 5, schema_version=7)
    r = cli("estimate", str(run), "--device", "t4")
    assert r.returncode == 2
    assert r.stderr.strip() == (f"error: {run / 'trace.jsonl'}:6: trace schema version 7 is not supported "
                                f"(this zerofl-profiler reads versions 1, 2)")
    _run_with_line(tmp_path, 5, schema_version=1)  # a v1 line inside a v2 trace
    r = cli("estimate", str(run), "--device", "t4")
    assert r.returncode == 2 and ":6: a version-1 record where version 2 is expected" in r.stderr


def test_column_type_mismatch_is_one_line_exit_2(tmp_path: Path) -> None:
    run = _run_with_line(tmp_path, 3, bytes_up=1.5)
    r = cli("export", str(run), "--out", str(tmp_path / "t.csv"))
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {run / 'trace.jsonl'}:4: bytes_up must be an integer, got 1.5"
    assert not list(tmp_path.glob("t*"))


def test_bad_trace_table_is_named(tmp_path: Path) -> None:
    run = tmp_path / "run"
    tracegen.write_run(run, 5)
    cfg = tomllib.loads((run / "config.toml").read_text())
    cfg["trace"]["energy_skipped"] = "none"
    (run / "config.toml").write_text(tomli_w.dumps(cfg))
    with pytest.raises(TraceFormatError, match=r"config.toml: \[trace\]: energy_skipped must be an object"):
        load_run(run)


def test_trace_info_round_trips_through_toml() -> None:
    info = TraceInfo(engine="flower", upload="dense", encoding="dense", model="resnet18",
                     energy_skipped={"rapl": "no powercap"}, accelerator="NVIDIA H200", precision="bfloat16")
    back = TraceInfo.from_dict(tomllib.loads(tomli_w.dumps(info.to_toml_dict())))
    assert back == info
