"""The columnar loader: both decoders give the same columns, which match an independent plain-json read."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tracegen

from zerofl_profiler.errors import TraceFormatError
from zerofl_profiler.traces import FLOP_BLOCK_KEYS, ClientColumns, load_columns, load_run
from zerofl_profiler.traces import columns as columns_mod
from zerofl_profiler.traces import decoders


@pytest.fixture(scope="module")
def run10k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    run = tmp_path_factory.mktemp("cols") / "run"
    recs = tracegen.write_run(run, 10_000)
    return run, recs


def _same(a: ClientColumns, b: ClientColumns) -> None:
    assert a.layers == b.layers
    for name, x in vars(a).items():
        y = getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype.kind == y.dtype.kind, name
            if x.dtype.kind == "f":
                np.testing.assert_array_equal(x, y, err_msg=name)  # NaN == NaN here
            else:
                assert (x == y).all(), name
    assert a.extra.keys() == b.extra.keys()
    for k in a.extra:
        np.testing.assert_array_equal(a.extra[k], b.extra[k])


@pytest.mark.slow
def test_msgspec_and_stdlib_give_identical_columns(run10k) -> None:
    run, _ = run10k
    _same(load_columns(run / "trace.jsonl", decoder="msgspec"), load_columns(run / "trace.jsonl", decoder="json"))


@pytest.mark.slow
def test_auto_falls_back_to_stdlib_without_msgspec(run10k, monkeypatch: pytest.MonkeyPatch) -> None:
    run, _ = run10k
    fast = load_columns(run / "trace.jsonl", decoder="msgspec")
    monkeypatch.setattr(decoders, "have_msgspec", lambda: False)
    assert decoders.resolve("auto") == "json"
    _same(load_columns(run / "trace.jsonl"), fast)


def test_columns_match_a_plain_json_read(run10k) -> None:
    """Every column against values read with json.loads and no zerofl_profiler code."""
    run, _ = run10k
    raw = [json.loads(x) for x in (run / "trace.jsonl").read_text().splitlines()]
    c = load_run(run).columns
    assert len(c) == len(raw) == 10_000
    assert c.round.tolist() == [r["round"] for r in raw]
    assert c.client_id.tolist() == [r["client_id"] for r in raw]
    assert c.status.tolist() == [r["status"] for r in raw]
    assert c.bytes_up.sum() == sum(r["bytes_up"] for r in raw)
    for j, key in enumerate(FLOP_BLOCK_KEYS):
        assert c.flops_sparse[:, j].tolist() == [r["flops"]["sparse"][key] for r in raw]
        assert c.flops_dense[:, j].tolist() == [r["flops"]["dense"][key] for r in raw]
    assert c.layers == tracegen.LAYERS
    for i in (0, 1, 17, 9_999):
        d = raw[i]["densities"]
        want_w = [d[n]["weight"] for n in tracegen.LAYERS] if d else [math.nan] * 4
        np.testing.assert_array_equal(c.density_weight[i], want_w)
    nulls = [r.get("peak_mem_bytes") is None for r in raw]
    assert np.isnan(c.peak_mem_bytes).tolist() == nulls
    assert np.nansum(c.energy_total_j) == pytest.approx(sum(r["energy"].get("total_j") or 0.0 for r in raw))
    est = [r["energy_estimate"]["total_j"] if r.get("energy_estimate") else math.nan for r in raw]
    np.testing.assert_array_equal(c.energy_estimate_total_j, est)
    assert c.flags.tolist() == [";".join(r.get("flags", [])) for r in raw]
    assert np.nansum(c.extra["encode_time_s"]) == pytest.approx(
        sum(r["extra"].get("encode_time_s", 0.0) for r in raw))


def test_records_and_columns_agree(run10k) -> None:
    run, recs = run10k
    data = load_run(run)
    assert data.clients == recs  # skip reasons merged back from [trace]
    assert data.columns.wall_time_s.tolist() == [r.wall_time_s for r in recs]


@pytest.mark.parametrize("decoder", ["msgspec", "json"])
def test_small_blocks_blank_lines_and_a_bad_line_far_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        decoder: str) -> None:
    """Blocks smaller than a line, blank lines and block boundaries keep line numbers right."""
    run = tmp_path / "run"
    tracegen.write_run(run, 50)
    lines = (run / "trace.jsonl").read_text().splitlines()
    bad = json.loads(lines[40])
    bad["round"] = "3"
    body = lines[:10] + [""] + lines[10:40] + ["  "] + [json.dumps(bad)] + lines[41:]
    (run / "trace.jsonl").write_text("\n".join(body) + "\n")
    monkeypatch.setattr(columns_mod, "BLOCK_BYTES", 700)
    with pytest.raises(TraceFormatError) as exc:
        load_columns(run / "trace.jsonl", decoder=decoder)
    assert str(exc.value) == f"{run / 'trace.jsonl'}:43: round must be an integer, got '3'"
    body[42] = lines[40]
    (run / "trace.jsonl").write_text("\n".join(body) + "\n")
    c = load_columns(run / "trace.jsonl", decoder=decoder)
    assert c.line.tolist() == list(range(1, 11)) + list(range(12, 42)) + list(range(43, 53))


@pytest.mark.parametrize("decoder", ["msgspec", "json"])
def test_layers_that_change_are_named(tmp_path: Path, decoder: str) -> None:
    run = tmp_path / "run"
    tracegen.write_run(run, 30)
    lines = (run / "trace.jsonl").read_text().splitlines()
    objs = [json.loads(x) for x in lines]
    i = next(k for k, o in enumerate(objs) if o["densities"] and k > 5)
    objs[i]["densities"]["extra_layer"] = {"weight": 1.0, "activation": 1.0}
    (run / "trace.jsonl").write_text("".join(json.dumps(o) + "\n" for o in objs))
    first = next(k for k, o in enumerate(objs) if o["densities"]) + 1
    with pytest.raises(TraceFormatError, match=rf"trace.jsonl:{i + 1}: densities: layers differ from line {first}"):
        load_columns(run / "trace.jsonl", decoder=decoder)


def test_estimate_reads_the_columns_it_is_given(run10k) -> None:
    """The costing's RecordColumns are views of the loader's arrays (no second conversion)."""
    from zerofl_profiler.analysis.estimate import records_from_columns

    run, _ = run10k
    c = load_run(run).columns
    rc = records_from_columns(c)
    assert np.shares_memory(rc.fd, c.flops_dense) and rc.rounds is c.round and rc.bytes_up is c.bytes_up


def test_costing_phases_are_the_first_flop_columns() -> None:
    """records_from_columns slices flops_* [:, :5]: that must be the costing's phase order."""
    from zerofl_profiler.hardware_models.cost import PHASES

    assert tuple(FLOP_BLOCK_KEYS[: len(PHASES)]) == tuple(PHASES)


def test_fields_builds_only_what_is_asked_and_still_validates(tmp_path: Path) -> None:
    from zerofl_profiler.analysis.estimate import RECORD_FIELDS

    run = tmp_path / "run"
    tracegen.write_run(run, 40)
    c = load_columns(run / "trace.jsonl", fields=RECORD_FIELDS)
    assert c.flops_sparse is not None and c.density_weight is None and c.energy_total_j is None and not c.extra
    full = load_columns(run / "trace.jsonl")
    assert (c.bytes_up == full.bytes_up).all() and (c.flops_dense == full.flops_dense).all()
    lines = (run / "trace.jsonl").read_text().splitlines()
    bad = json.loads(lines[7])
    bad["energy"]["total_j"] = -1.0  # a field the costing does not read
    lines[7] = json.dumps(bad)
    (run / "trace.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(TraceFormatError, match=r"trace.jsonl:8: energy.total_j must be >= 0"):
        load_columns(run / "trace.jsonl", fields=RECORD_FIELDS)
    with pytest.raises(ValueError, match="not a trace column: nope"):
        load_columns(run / "trace.jsonl", fields=["nope"])


def test_batch_sizes_as_triplets(tmp_path: Path) -> None:
    run = tmp_path / "run"
    recs = tracegen.write_run(run, 60)
    c = load_run(run).columns
    want = [(i, b, r.batch_sizes.count(b)) for i, r in enumerate(recs) for b in sorted(set(r.batch_sizes))]
    assert list(zip(c.batch_record.tolist(), c.batch_size.tolist(), c.batch_count.tolist())) == want
    ok = c.select(c.ok)
    rows = [i for i, r in enumerate(recs) if r.status == "ok"]
    want_ok = [(rows.index(i), b, n) for i, b, n in want if i in rows]
    assert list(zip(ok.batch_record.tolist(), ok.batch_size.tolist(), ok.batch_count.tolist())) == want_ok
    assert load_columns(run / "trace.jsonl", fields=["steps"]).batch_record is None


@pytest.mark.parametrize("decoder", ["msgspec", "json"])
def test_bad_line_inside_a_full_block_is_named(tmp_path: Path, decoder: str) -> None:
    """A bad line in the middle of a block decoded in one call: that block is re-read line by line."""
    run = tmp_path / "run"
    tracegen.write_run(run, 2_000)
    path = run / "trace.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    first_block = 0
    while sum(map(len, lines[:first_block + 1])) <= columns_mod.BLOCK_BYTES:
        first_block += 1
    assert 100 < first_block < len(lines) - 100  # the bad line sits well inside a full block
    bad_at = first_block // 2
    bad = json.loads(lines[bad_at])
    bad["steps"] = -1
    lines[bad_at] = (json.dumps(bad) + "\n").encode()
    path.write_bytes(b"".join(lines))
    with pytest.raises(TraceFormatError) as exc:
        load_columns(path, decoder=decoder)
    assert str(exc.value) == f"{path}:{bad_at + 1}: steps must be >= 0, got -1"


@pytest.mark.parametrize("decoder", ["msgspec", "json"])
@pytest.mark.parametrize(("field", "value"), [("steps", 2**63), ("bytes_up", 2**64), ("round", 2**63)])
def test_count_beyond_int64_is_named_not_an_overflow(tmp_path: Path, decoder: str, field: str, value: int) -> None:
    """Counts live in int64 columns: one past int64's range is a bad line, never an OverflowError."""
    run = tmp_path / "run"
    tracegen.write_run(run, 50)
    path = run / "trace.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    bad = json.loads(lines[7])
    bad[field] = value
    lines[7] = (json.dumps(bad) + "\n").encode()
    path.write_bytes(b"".join(lines))
    with pytest.raises(TraceFormatError) as exc:
        load_columns(path, decoder=decoder)
    assert str(exc.value) == f"{path}:8: {field} must be <= {2**63 - 1}, got {value}"
    bad[field] = 2**63 - 1  # the largest int64 is a valid count
    lines[7] = (json.dumps(bad) + "\n").encode()
    path.write_bytes(b"".join(lines))
    assert int(getattr(load_columns(path, decoder=decoder), "round" if field == "round" else field)[7]) == 2**63 - 1


@pytest.mark.parametrize("decoder", ["msgspec", "json"])
def test_torn_last_line_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decoder: str) -> None:
    """A last line without its newline (a record being appended, or torn by a kill) is not read,
    however the blocks fall; a line longer than a block is read whole."""
    run = tmp_path / "run"
    tracegen.write_run(run, 30)
    path = run / "trace.jsonl"
    whole = path.read_bytes()
    full = load_columns(path, decoder=decoder)
    lines = whole.splitlines(keepends=True)
    for block in (columns_mod.BLOCK_BYTES, 700, 64):  # default; about a line; smaller than any line
        monkeypatch.setattr(columns_mod, "BLOCK_BYTES", block)
        for torn in (lines[-1][:-1], lines[-1][: len(lines[-1]) // 2], b"{"):
            path.write_bytes(b"".join(lines[:-1]) + torn)
            c = load_columns(path, decoder=decoder)
            assert len(c) == 29 and c.line.tolist() == list(range(1, 30)), (block, torn[:20])
            assert (c.flops_dense == full.flops_dense[:29]).all()
        path.write_bytes(whole)
        c = load_columns(path, decoder=decoder)
        assert len(c) == 30 and (c.bytes_up == full.bytes_up).all()


def test_batch_triplets_against_a_counter() -> None:
    """Counting per candidate size (first and last batch of each record) and the flat path agree
    with collections.Counter, including sizes only in the middle of a list and many sizes."""
    from collections import Counter
    from types import SimpleNamespace

    lists = [[32] * 5 + [7], [], [32, 5, 32], [9], [16, 16, 16], [32, 32, 7], [1, 2, 3, 4, 5, 6, 7, 8, 9]]
    for pick in (lists[:2], lists[:3], lists[:6], lists):  # candidates only; a middle size; > _FEW_SIZES sizes
        objs = [SimpleNamespace(batch_sizes=b) for b in pick]
        rec, size, count = columns_mod._batch_triplets(objs, 10)
        want = [(10 + i, s, k) for i, b in enumerate(pick) for s, k in sorted(Counter(b).items())]
        assert list(zip(rec.tolist(), size.tolist(), count.tolist())) == want
        assert rec.dtype == size.dtype == count.dtype == np.int64


@pytest.mark.parametrize("decoder", ["msgspec", "json"])
@pytest.mark.parametrize("head", [b"\x00\x81", b"\x81\x00", b"\x00\x00", b"\xff\xfe"])
def test_line_that_looks_like_utf16_is_not_utf8(tmp_path: Path, decoder: str, head: bytes) -> None:
    """Bytes that json.loads alone would guess as UTF-16/32 (zero bytes or a BOM at the start, an
    even length) are named as not UTF-8, by the column loader and by the record reader."""
    from zerofl_profiler.traces import read_client_records

    run = tmp_path / "run"
    tracegen.write_run(run, 5)
    path = run / "trace.jsonl"
    good = path.read_bytes()
    path.write_bytes(good + head + bytes(range(128, 256)) * 8 + b"\n")  # even length, invalid UTF-8
    with pytest.raises(TraceFormatError) as exc:
        load_columns(path, decoder=decoder)
    assert str(exc.value) == f"{path}:6: not UTF-8 text"
    with pytest.raises(TraceFormatError) as exc:
        read_client_records(path)
    assert str(exc.value) == f"{path}:6: not UTF-8 text"


def test_stdlib_loads_refuses_utf16_even_where_json_would_guess_it() -> None:
    text = '{"a": 1}'
    assert json.loads(text.encode("utf-16-le")) == {"a": 1}  # what the guard is for
    with pytest.raises(ValueError):  # read as UTF-8: NUL characters, not JSON
        decoders.loads(text.encode("utf-16-le"))
    with pytest.raises(UnicodeDecodeError):
        decoders.loads(text.encode("utf-16"))  # its BOM is not UTF-8
    assert decoders.loads(text.encode()) == decoders.loads(memoryview(text.encode())) == {"a": 1}
