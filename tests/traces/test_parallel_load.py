"""The columnar loader in worker processes: the same columns, errors and line numbers as in one process."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
import tracegen
from test_columns import _same

from zerofl_profiler.analysis.estimate import RECORD_FIELDS
from zerofl_profiler.errors import BadInputError, TraceFormatError
from zerofl_profiler.traces import columns as columns_mod
from zerofl_profiler.traces import load_columns, parallel


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Small blocks and ranges, no size threshold, two cores: any file takes the parallel path.

    Returns a list that grows by one each time the parallel path runs.
    """
    monkeypatch.setattr(columns_mod, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(columns_mod, "RANGE_BYTES", 48 << 10)
    monkeypatch.setattr(columns_mod, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    calls: list[int] = []
    real = columns_mod._load_parallel

    def spy(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(columns_mod, "_load_parallel", spy)
    return calls


def _trace(tmp_path: Path, n: int = 600) -> tuple[Path, list[bytes]]:
    """A trace whose failed records (no densities) come first, so the first ranges have no layer order,
    with blank lines in it."""
    run = tmp_path / "run"
    tracegen.write_run(run, n)
    path = run / "trace.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    failed = [x for x in lines if b'"densities":{}' in x.replace(b" ", b"")]
    assert 0 < len(failed) < len(lines)
    lines = failed + [b"\n"] + [x for x in lines if x not in failed]
    lines.insert(len(lines) // 2, b"   \n")
    path.write_bytes(b"".join(lines))
    return path, lines


def _error(path: Path, **kw) -> str:
    with pytest.raises(TraceFormatError) as exc:
        load_columns(path, **kw)
    return str(exc.value)


def _no_workers_left() -> None:
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("decoder", ["msgspec", "json"])
def test_parallel_columns_equal_sequential_and_stdlib(tmp_path: Path, forced: list[int], decoder: str) -> None:
    path, lines = _trace(tmp_path)
    assert len(parallel.line_ranges(path, path.stat().st_size, 20)) > 10
    no_layers = sum(len(x) for x in lines if b'"densities":{}' in x.replace(b" ", b""))
    assert no_layers > columns_mod.RANGE_BYTES  # the first range(s) find no layer order
    for fields in (None, RECORD_FIELDS):
        seq = load_columns(path, decoder="json", fields=fields, workers=1)
        assert not forced
        par = load_columns(path, decoder=decoder, fields=fields, workers=2)
        assert forced
        forced.clear()
        _same(par, seq)
        assert par.layers == tracegen.LAYERS
    _no_workers_left()


def test_bad_line_in_a_later_range_is_named_with_its_global_line(tmp_path: Path, forced: list[int]) -> None:
    path, lines = _trace(tmp_path)
    at = len(lines) - 40
    bad = json.loads(lines[at])
    bad["steps"] = -1
    lines[at] = (json.dumps(bad) + "\n").encode()
    path.write_bytes(b"".join(lines))
    want = f"{path}:{at + 1}: steps must be >= 0, got -1"
    assert _error(path, workers=1) == want
    assert not forced
    assert _error(path, workers=2) == want
    assert _error(path, workers=2, decoder="json") == want
    assert forced
    _no_workers_left()


def test_layers_that_change_in_a_later_range(tmp_path: Path, forced: list[int],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record from some line on has one more layer: the ranges after it agree among themselves
    but not with the first layer order found; the range holding the change disagrees within itself."""
    path, lines = _trace(tmp_path)
    objs = [json.loads(x) if x.strip() else None for x in lines]
    start = len(lines) * 2 // 3
    for o in objs[start:]:
        if o and o["densities"]:
            o["densities"]["extra_layer"] = {"weight": 1.0, "activation": 1.0}
    path.write_bytes(b"".join((json.dumps(o) + "\n").encode() if o else b"\n" for o in objs))
    want = _error(path, workers=1)
    assert "densities: layers differ from line" in want
    assert _error(path, workers=2) == want
    assert forced
    # a range that starts exactly where the layers change agrees with itself: the join must catch it
    data = path.read_bytes()
    cut = sum(map(len, data.splitlines(keepends=True)[:start]))
    monkeypatch.setattr(parallel, "line_ranges", lambda p, size, parts: [(0, cut), (cut, size)])
    assert _error(path, workers=2) == want
    _no_workers_left()


def test_duplicate_across_ranges_and_torn_last_line(tmp_path: Path, forced: list[int]) -> None:
    path, lines = _trace(tmp_path)
    torn = b"".join(lines) + lines[-1][: len(lines[-1]) // 2]
    path.write_bytes(torn)
    _same(load_columns(path, workers=2), load_columns(path, workers=1))
    assert len(load_columns(path, workers=2)) == sum(1 for x in lines if x.strip())
    path.write_bytes(b"".join(lines + [lines[3]]))  # record of line 4 again, at the end
    want = _error(path, workers=1)
    assert "duplicate record" in want and "(first at line 4)" in want
    assert _error(path, workers=2) == want
    _no_workers_left()


def test_keyboard_interrupt_leaves_no_workers(tmp_path: Path, forced: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _trace(tmp_path)
    parent, added = os.getpid(), []
    real_add = columns_mod._Buffers.add

    def add(self, chunk):
        if os.getpid() == parent:
            added.append(1)
            if len(added) == 3:
                raise KeyboardInterrupt
        real_add(self, chunk)

    monkeypatch.setattr(columns_mod._Buffers, "add", add)
    with pytest.raises(KeyboardInterrupt):
        load_columns(path, workers=2)
    _no_workers_left()


def test_turning_workers_off_and_bad_settings(tmp_path: Path, forced: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _trace(tmp_path, 60)
    monkeypatch.setenv(parallel.WORKERS_ENV, "1")
    load_columns(path)
    assert not forced
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    load_columns(path)
    assert forced
    forced.clear()
    load_columns(path, workers=1)  # the parameter wins over the environment
    assert not forced
    for bad in ("two", "0"):
        monkeypatch.setenv(parallel.WORKERS_ENV, bad)
        with pytest.raises(BadInputError, match=parallel.WORKERS_ENV):
            load_columns(path)
    with pytest.raises(ValueError, match="at least 1"):
        load_columns(path, workers=0)
    monkeypatch.delenv(parallel.WORKERS_ENV)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    load_columns(path, workers=4)  # one core: never parallel
    assert not forced


def test_small_traces_stay_in_one_process(tmp_path: Path, forced: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _trace(tmp_path, 60)
    monkeypatch.setattr(columns_mod, "PARALLEL_MIN_BYTES", path.stat().st_size + 1)
    load_columns(path, workers=2)
    assert not forced


def test_line_ranges_cut_after_newlines(tmp_path: Path) -> None:
    path = tmp_path / "t"
    body = b"a\n" + b"x" * 5000 + b"\n" + b"bb\ncc\n" + b"d" * 10 + b"\n" + b"tail"
    path.write_bytes(body)
    for parts in (1, 2, 3, 7, 50, 10_000):
        ranges = parallel.line_ranges(path, len(body), parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(body)
        assert all(b == c for (_, b), (c, _) in zip(ranges, ranges[1:]))
        assert all(body[b - 1:b] == b"\n" for _, b in ranges[:-1]) and all(a < b for a, b in ranges)
        assert len(ranges) <= min(parts, 6)
    assert parallel.line_ranges(path, len(body), 2) == [(0, 5003), (5003, len(body))]
