"""Append-only trace files that survive a crash, and a reader that names the first bad line.

A writer appends one JSON object per line and flushes it to the OS after every record, so a
killed process leaves every finished record on disk and at most one partial last line, which
``truncate_partial_tail`` removes before a resume and every reader here skips. ``fsync=True``
also fsyncs each record; the engine's trace instead fsyncs once per round (``traces.rundir``
states what a power cut can then lose).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import IO, Any, Iterator, TypeVar

from ..errors import BadInputError, OutputError, TraceFormatError
from .schema import (
    LAYERS_FILE,
    ROUNDS_FILE,
    TRACE_FILE,
    ClientRoundRecord,
    RoundRecord,
)

R = TypeVar("R", ClientRoundRecord, RoundRecord)


class JsonlWriter:
    """Append records to a JSONL file, one flushed line per record (fsynced too with ``fsync=True``)."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = open(self.path, "a", encoding="utf-8")
        self._fsync = fsync

    def write(self, record: ClientRoundRecord | RoundRecord | dict[str, Any]) -> None:
        """Append one record: flushed before returning (and fsynced with ``fsync=True``)."""
        d = record if isinstance(record, dict) else record.to_dict()
        line = json.dumps(d, allow_nan=False, separators=(",", ":"))
        try:
            self._fh.write(line + "\n")
            self._fh.flush()
            if self._fsync:
                os.fsync(self._fh.fileno())
        except OSError as exc:  # a full disk names the file; resume drops the partial last line
            raise OutputError.from_os(exc, self.path, "cannot append to") from None

    def close(self) -> None:
        """Close the file (records are already on disk)."""
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def truncate_partial_tail(path: str | os.PathLike[str]) -> int:
    """Drop a partial (unterminated or unparsable) last line left by a crash; return bytes dropped."""
    p = Path(path)
    if not p.exists():
        return 0
    data = p.read_bytes()
    if not data:
        return 0
    keep = len(data)
    if not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
    else:
        last_start = data.rfind(b"\n", 0, len(data) - 1) + 1
        try:
            json.loads(data[last_start:])
        except (ValueError, RecursionError):
            keep = last_start
    if keep != len(data):
        with open(p, "r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
    return len(data) - keep


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-empty line; a bad line is a TraceFormatError naming it."""
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such trace file: {p}")
    with open(p, "rb") as fh:  # decoded per line, so bytes that are not UTF-8 name their line
        for lineno, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                break  # a record still being appended (or torn by a kill): not complete, not read
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
            except NonFiniteNumber as exc:
                raise TraceFormatError(f"{p}:{lineno}: non-finite number {exc} (a trace holds finite numbers or null)") from None
            except UnicodeDecodeError:
                raise TraceFormatError(f"{p}:{lineno}: not UTF-8 text") from None
            except RecursionError:
                raise TraceFormatError(f"{p}:{lineno}: JSON nested too deeply") from None
            except ValueError as exc:
                raise TraceFormatError(f"{p}:{lineno}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
            if not isinstance(obj, dict):
                raise TraceFormatError(f"{p}:{lineno}: expected a JSON object")
            yield lineno, obj


class NonFiniteNumber(ValueError):
    """NaN, Infinity or a float too large for a double in a trace line."""


def _no_constant(name: str) -> float:
    raise NonFiniteNumber(name)


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise NonFiniteNumber(text[:40])
    return v


def _read(path: str | os.PathLike[str], cls: type[R]) -> list[R]:
    """Every record of a JSONL file; a record's key (round, client) seen twice names both lines."""
    out: list[R] = []
    seen: dict[tuple[int, ...], int] = {}
    for lineno, obj in iter_jsonl(path):
        try:
            rec = cls.from_dict(obj)
        except TraceFormatError as exc:
            raise TraceFormatError(f"{path}:{lineno}: {exc}") from None
        key = _record_key(rec)
        if key in seen:
            what = f"round {key[0]}" + (f", client {key[1]}" if len(key) > 1 else "")
            raise TraceFormatError(f"{path}:{lineno}: duplicate record for {what} (first at line {seen[key]}); "
                                   f"two writers or a copied trace?")
        seen[key] = lineno
        out.append(rec)
    return out


def _record_key(rec: Any) -> tuple[int, ...]:
    """What identifies a record in its file: (round, client) for client records, (round,) for rounds."""
    if isinstance(rec, ClientRoundRecord):
        return (int(rec.round), int(rec.client_id))
    return (int(rec.round),)


def read_client_records(path: str | os.PathLike[str]) -> list[ClientRoundRecord]:
    """Read and validate a trace.jsonl (or a run directory containing one)."""
    return _read(_resolve(path, TRACE_FILE), ClientRoundRecord)


def read_round_records(path: str | os.PathLike[str]) -> list[RoundRecord]:
    """Read and validate a rounds.jsonl (or a run directory containing one)."""
    return _read(_resolve(path, ROUNDS_FILE), RoundRecord)


def read_layers(path: str | os.PathLike[str]) -> dict[str, Any]:
    """RUN_DIR/layers.json as plain JSON, validated by its one reader (traces.layers.read_layers_doc)."""
    from .layers import read_layers_doc

    return read_layers_doc(_resolve(path, LAYERS_FILE)).to_json()


def _resolve(path: str | os.PathLike[str], default_name: str) -> Path:
    p = Path(path)
    if p.is_dir():
        return p / default_name
    if not p.exists():
        raise BadInputError(f"no such file or run directory: {p}")
    return p
