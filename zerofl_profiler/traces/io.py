"""Append-only trace files that survive a crash, and a record reader that names the first bad line.

A writer appends one JSON object per line and flushes (and fsyncs) after every record, so a
killed run leaves every finished record on disk and at most one partial last line, which
``truncate_partial_tail`` removes before a resume. Given the run's ``energy_skipped`` (the
``[trace]`` table), the writer leaves out the skip reasons every record would repeat, and the
readers put them back (:func:`strip_run_skipped`). Version-1 files are upgraded line by line (:mod:`.upgrade`). For large
traces read columns instead (:mod:`.columns`); these readers build one object per record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping, TypeVar

from ..errors import BadInputError, OutputError, TraceFormatError
from . import decoders
from .schema import (
    LAYERS_FILE,
    ROUNDS_FILE,
    TRACE_FILE,
    ClientRoundRecord,
    RoundRecord,
)

R = TypeVar("R", ClientRoundRecord, RoundRecord)


class JsonlWriter:
    """Append records to a JSONL file, one flushed (and fsynced) line per record."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True,
                 energy_skipped: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = open(self.path, "a", encoding="utf-8")
        self._fsync = fsync
        self._skipped = dict(energy_skipped or {})

    def write(self, record: ClientRoundRecord | RoundRecord | dict[str, Any]) -> None:
        """Append one record and make it durable before returning."""
        d = record if isinstance(record, dict) else record.to_dict()
        d = strip_run_skipped(d, self._skipped)
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


def strip_run_skipped(d: dict[str, Any], run_skipped: Mapping[str, str]) -> dict[str, Any]:
    """The record dict without skip reasons that can be restored: the run's ones, or an estimate's empty ones.

    In a version-2 line, ``energy`` without ``skipped`` means "the run's [trace] energy_skipped"
    and ``energy_estimate`` without ``skipped`` means none; anything else is written in full.
    """
    out = dict(d)
    for key, implied in (("energy", dict(run_skipped)), ("energy_estimate", {})):
        block = out.get(key)
        if isinstance(block, dict) and block.get("skipped") == implied:
            out[key] = {k: v for k, v in block.items() if k != "skipped"}
    return out


def restore_run_skipped(obj: dict[str, Any], run_skipped: Mapping[str, str]) -> dict[str, Any]:
    """Undo :func:`strip_run_skipped` on a decoded line (an absent ``energy.skipped`` is the run's)."""
    block = obj.get("energy")
    if isinstance(block, dict) and "skipped" not in block:
        obj = {**obj, "energy": {**block, "skipped": dict(run_skipped)}}
    return obj


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
            decoders.loads(data[last_start:])
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
            if raw.strip():
                yield lineno, decoders.decode_object(raw, p, lineno)


def file_version(path: str | os.PathLike[str]) -> int | None:
    """The schema_version of a trace file's first record (None: empty file)."""
    for _, obj in iter_jsonl(path):
        v = obj.get("schema_version")
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        raise TraceFormatError(f"{path}: first record has no integer schema_version")
    return None


def _read(path: Path, cls: type[R], convert: Callable[[dict[str, Any]], dict[str, Any]] | None,
          run_skipped: Mapping[str, str] | None) -> list[R]:
    out: list[R] = []
    seen: dict[tuple[int, ...], int] = {}
    for lineno, obj in iter_jsonl(path):
        try:
            obj = convert(obj) if convert is not None else obj
            rec = cls.from_dict(restore_run_skipped(obj, run_skipped or {}))
        except TraceFormatError as exc:
            raise TraceFormatError(f"{path}:{lineno}: {exc}") from None
        key = (rec.round, rec.client_id) if isinstance(rec, ClientRoundRecord) else (rec.round,)
        if key in seen:
            what = f"round {rec.round}" + (f", client {key[1]}" if len(key) > 1 else "")
            raise TraceFormatError(f"{path}:{lineno}: duplicate record for {what} (first at line {seen[key]})")
        seen[key] = lineno
        out.append(rec)
    return out


def _converter(path: Path, kind: str) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    from .upgrade import V1, upgrade_client, upgrade_round

    return (upgrade_client if kind == "client" else upgrade_round) if file_version(path) == V1 else None


def read_client_records(path: str | os.PathLike[str], *,
                        energy_skipped: Mapping[str, str] | None = None) -> list[ClientRoundRecord]:
    """Read and validate a trace.jsonl (or a run directory containing one); version 1 is upgraded."""
    p = _resolve(path, TRACE_FILE)
    return _read(p, ClientRoundRecord, _converter(p, "client"), energy_skipped)


def read_round_records(path: str | os.PathLike[str], *,
                       energy_skipped: Mapping[str, str] | None = None) -> list[RoundRecord]:
    """Read and validate a rounds.jsonl (or a run directory containing one); version 1 is upgraded."""
    p = _resolve(path, ROUNDS_FILE)
    return _read(p, RoundRecord, _converter(p, "round"), energy_skipped)


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
