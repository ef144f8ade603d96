"""The trace contract: records round-trip, validate against the JSON Schema, and bad lines are named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from zerofl_profiler.errors import BadInputError, TraceFormatError
from zerofl_profiler.traces import (
    SCHEMA_VERSION,
    ClientRoundRecord,
    EnergyBlock,
    JsonlWriter,
    RoundRecord,
    empty_flops,
    load_columns,
    load_run,
    read_client_records,
    read_round_records,
    truncate_partial_tail,
)

TRACE_TABLE = '[trace]\nengine = "inprocess"\nupload = "topk-weights"\nencoding = "csr"\nmodel = "cnn"\n'
SCHEMA = json.loads((Path(__file__).parents[2] / "zerofl_profiler" / "traces" / "trace.schema.json").read_text())


def client_record(round_: int = 1, client: int = 3, **kw) -> ClientRoundRecord:
    flops = {"dense": empty_flops(), "sparse": empty_flops()}
    flops["dense"].update(forward=100, backward_input=90, backward_weight=100, elementwise=7, optimizer=3, total=300)
    flops["sparse"].update(forward=10, backward_input=9, backward_weight=10, elementwise=7, optimizer=3, total=39)
    base = dict(run_id="run-a", round=round_, client_id=client, samples=40, steps=2, batch_sizes=[32, 8],
                densities={"layer1.0.conv1": {"weight": 0.1, "activation": 0.1}}, flops=flops,
                bytes_up=800, bytes_up_dense=4000, bytes_down=4000, wall_time_s=0.5, cpu_time_s=0.9,
                energy=EnergyBlock(source="rapl", method="counter", total_j=3.5, domains_j={"package-0": 3.5},
                                   duration_s=0.5, skipped={"nvml": "no NVIDIA GPU"}),
                energy_estimate=EnergyBlock(source="estimate", method="cpu-time-x-power", total_j=4.0))
    base.update(kw)
    return ClientRoundRecord(**base)


def round_record(round_: int = 1) -> RoundRecord:
    return RoundRecord(run_id="run-a", round=round_, sampled_clients=[3, 5], completed_clients=[3],
                       failed_clients=[5], aggregation_time_s=0.01, round_wall_time_s=1.2,
                       test_accuracy=0.5, test_loss=1.3, lr=0.1)


def test_roundtrip_and_json_schema(tmp_path: Path) -> None:
    recs = [client_record(1, 3), client_record(1, 5, status="failed", error="NaN loss")]
    with JsonlWriter(tmp_path / "trace.jsonl") as w:
        for r in recs:
            w.write(r)
    with JsonlWriter(tmp_path / "rounds.jsonl") as w:
        w.write(round_record())
    back = read_client_records(tmp_path)
    assert back == recs
    assert read_round_records(tmp_path) == [round_record()]
    for line in (tmp_path / "trace.jsonl").read_text().splitlines():
        obj = json.loads(line)
        assert obj["schema_version"] == SCHEMA_VERSION
        jsonschema.validate(obj, SCHEMA)
    jsonschema.validate(round_record().to_dict(), SCHEMA)


def test_schema_file_rejects_what_the_reader_rejects() -> None:
    d = client_record().to_dict()
    d["energy"]["source"] = "estimate"  # an estimate must never fill the measured block
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, SCHEMA)
    with pytest.raises(TraceFormatError, match="energy.source"):
        ClientRoundRecord.from_dict(d)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(schema_version=99), "schema version 99"),
        (lambda d: d.pop("samples"), "samples"),
        (lambda d: d.update(bogus=1), "unknown field"),
        (lambda d: d.update(samples=-1), "samples"),
        (lambda d: d["flops"]["sparse"].pop("total"), "flops.sparse lacks required field(s): total"),
        (lambda d: d.update(mem_source="disk"), "mem_source must be one of cuda, rss, none"),
        (lambda d: d.update(wall_time_s="1.0"), "wall_time_s must be a number"),
        (lambda d: d["densities"]["layer1.0.conv1"].update(weight=1.5), "weight must be <= 1"),
        (lambda d: d.update(status="maybe"), "status"),
    ],
)
@pytest.mark.parametrize("reader", ["records", "msgspec", "json"])
def test_reader_names_the_bad_line(tmp_path: Path, mutate, message: str, reader: str) -> None:
    """The record reader and the columnar loader (both decoders) name the same line and field."""
    bad = client_record(2).to_dict()
    mutate(bad)
    p = tmp_path / "trace.jsonl"
    p.write_text(json.dumps(client_record(1, 3).to_dict()) + "\n" + json.dumps(client_record(1, 4).to_dict())
                 + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(TraceFormatError) as exc:
        read_client_records(p) if reader == "records" else load_columns(p, decoder=reader)
    assert f"{p}:3:" in str(exc.value)
    assert message in str(exc.value)


def test_invalid_json_line_is_named(tmp_path: Path) -> None:
    p = tmp_path / "trace.jsonl"
    p.write_text(json.dumps(client_record().to_dict()) + "\n{not json\n")
    with pytest.raises(TraceFormatError, match=r"trace.jsonl:2: not valid JSON"):
        read_client_records(p)


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such"):
        read_client_records(tmp_path / "nope.jsonl")
    with pytest.raises(BadInputError, match="not a run directory"):
        load_run(tmp_path)


def test_truncate_partial_tail(tmp_path: Path) -> None:
    p = tmp_path / "trace.jsonl"
    line = json.dumps(client_record().to_dict()) + "\n"
    p.write_text(line + line[: len(line) // 2])
    assert truncate_partial_tail(p) == len(line) // 2
    assert p.read_text() == line
    assert truncate_partial_tail(p) == 0  # idempotent on a clean file
    # a complete-looking but unparsable last line (torn write ending in a newline) is dropped too
    p.write_text(line + '{"schema_version": 1, "ki\n')
    truncate_partial_tail(p)
    assert p.read_text() == line


def test_writer_survives_kill(tmp_path: Path) -> None:
    """Records written before a SIGKILL are on disk and readable."""
    p = tmp_path / "trace.jsonl"
    code = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_traces import client_record
from zerofl_profiler.traces import JsonlWriter
w = JsonlWriter({str(p)!r})
for i in range(5):
    w.write(client_record(1, i))
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ})
    assert proc.returncode == -9
    recs = read_client_records(p)
    assert [r.client_id for r in recs] == [0, 1, 2, 3, 4]


def test_load_run_reads_everything(tmp_path: Path) -> None:
    with JsonlWriter(tmp_path / "trace.jsonl") as w:
        w.write(client_record())
    with JsonlWriter(tmp_path / "rounds.jsonl") as w:
        w.write(round_record())
    (tmp_path / "config.toml").write_text('run_id = "run-a"\nname = "sparse-90"\n' + TRACE_TABLE)
    (tmp_path / "layers.json").write_text(json.dumps({"layers": []}))
    run = load_run(tmp_path)
    assert run.run_id == "run-a" and run.name == "sparse-90"
    assert len(run.clients) == 1 and len(run.rounds) == 1 and run.layers is not None and run.layers.layers == ()
    (tmp_path / "config.toml").write_text("run_id = \n")
    with pytest.raises(BadInputError, match="malformed TOML"):
        load_run(tmp_path)


@pytest.mark.parametrize("reader", ["records", "msgspec", "json"])
def test_duplicate_round_client_names_both_lines(tmp_path: Path, reader: str) -> None:
    p = tmp_path / "trace.jsonl"
    lines = [client_record(1, 3), client_record(1, 4), client_record(2, 3), client_record(1, 4)]
    p.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in lines))
    with pytest.raises(TraceFormatError) as exc:
        read_client_records(p) if reader == "records" else load_columns(p, decoder=reader)
    assert str(exc.value) == f"{p}:4: duplicate record for round 1, client 4 (first at line 2)"


def test_duplicate_is_exit_2_one_line(tmp_path: Path) -> None:
    with JsonlWriter(tmp_path / "trace.jsonl") as w:
        w.write(client_record(1, 3))
        w.write(client_record(1, 3))
    (tmp_path / "config.toml").write_text(TRACE_TABLE)
    proc = subprocess.run([sys.executable, "-m", "zerofl_profiler", "estimate", str(tmp_path), "--device", "t4"],
                          capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'trace.jsonl'}:2: duplicate record for round 1, client 3 (first at line 1)"]
