"""trace.jsonl straight to numpy columns: one array per field, per-layer densities as 2-D arrays.

A 10^6-line trace is read in blocks; each block is decoded and validated in one call (msgspec,
typed by the schema dataclasses) or line by line (standard library + :func:`.typespec.check`),
then turned into column chunks, so no per-record Python object outlives its block. A bad line is
named (``trace.jsonl:LINE: field: problem``) exactly as the record reader names it: when msgspec
rejects a block, that block is re-checked line by line to find and word the first bad line.

Nulls in numeric columns are NaN (``train_loss``, ``energy_total_j``, ``peak_mem_bytes``, ...);
string columns are object arrays sharing one str per distinct value (None where the field is
null; "" for ``energy_estimate_*`` of a record without an estimate). Records are
kept in file order; ``line`` holds each one's line number.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from itertools import chain, compress, repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from ..errors import BadInputError, TraceFormatError
from ..vocab import ESTIMATE_SOURCES, MEASURED_SOURCES
from . import decoders
from .schema import (
    FLOP_BLOCK_KEYS,
    ClientRoundRecord,
    check_energy_sources,
)
from .typespec import check

#: Bytes read per block (a block ends at a line end; a longer line is read whole). Small enough that a
#: block's decoded objects are still in cache while they become columns: on 2*10^5 engine lines,
#: 1 MiB loaded 7% faster than 4 MiB and 56% faster than 16 MiB (256 KiB: 5% slower; medians of 3).
BLOCK_BYTES = 1 << 20
#: Columns always built, whatever ``fields`` asks for: the checks that span records need them.
CHECKED_FIELDS = frozenset({"line", "round", "client_id", "status", "mem_source", "peak_mem_bytes", "energy_source",
                            "energy_estimate_source"})
NAN = math.nan


@dataclass(frozen=True)
class ClientColumns:
    """Every client-round record of a trace as columns (row i = the i-th record in the file).

    ``flops_dense`` / ``flops_sparse`` are (N, 7) int64 with columns FLOP_BLOCK_KEYS;
    ``density_weight`` / ``density_activation`` are (N, L) with columns ``layers`` (NaN rows for
    records without densities, e.g. a client that failed before its first step). A column left out
    by ``load_columns(fields=...)`` is None (every record is still fully validated). ``extra`` maps each
    key of the records' ``extra`` objects that holds numbers to a float column (NaN where a record
    lacks it or holds something else). ``batch_sizes`` is kept as (record row, batch size, count)
    triplets, one per distinct size a record ran, in ``batch_record`` / ``batch_size`` /
    ``batch_count`` (K,), sorted by row then size.
    """

    line: np.ndarray
    run_id: np.ndarray
    round: np.ndarray
    client_id: np.ndarray
    status: np.ndarray
    error: np.ndarray
    device: np.ndarray
    samples: np.ndarray
    steps: np.ndarray
    bytes_up: np.ndarray
    bytes_up_dense: np.ndarray
    bytes_down: np.ndarray
    wall_time_s: np.ndarray
    cpu_time_s: np.ndarray
    accelerator_time_s: np.ndarray
    peak_mem_bytes: np.ndarray
    mem_source: np.ndarray
    train_loss: np.ndarray
    lr: np.ndarray
    timestamp: np.ndarray
    flags: np.ndarray
    flops_dense: np.ndarray
    flops_sparse: np.ndarray
    density_weight: np.ndarray
    density_activation: np.ndarray
    energy_source: np.ndarray
    energy_method: np.ndarray
    energy_total_j: np.ndarray
    energy_duration_s: np.ndarray
    energy_attribution: np.ndarray
    energy_estimate_source: np.ndarray
    energy_estimate_method: np.ndarray
    energy_estimate_total_j: np.ndarray
    layers: tuple[str, ...]
    extra: Mapping[str, np.ndarray]
    batch_record: np.ndarray | None = None
    batch_size: np.ndarray | None = None
    batch_count: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.line)

    def select(self, mask: np.ndarray) -> "ClientColumns":
        """The rows where ``mask`` is true (boolean array) or the given row indices (no copy when all are kept)."""
        if mask.dtype == bool and len(mask) == len(self) and mask.all():
            return self
        kw: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            per_row = isinstance(v, np.ndarray) and not f.name.startswith("batch_")
            kw[f.name] = v[mask] if per_row else v
        kw["extra"] = {k: v[mask] for k, v in self.extra.items()}
        if self.batch_record is not None:
            rows = np.flatnonzero(mask) if mask.dtype == bool else np.asarray(mask)
            new_row = np.full(len(self), -1, dtype=np.int64)
            new_row[rows] = np.arange(len(rows))
            keep = new_row[self.batch_record] >= 0
            kw["batch_record"] = new_row[self.batch_record[keep]]
            kw["batch_size"], kw["batch_count"] = self.batch_size[keep], self.batch_count[keep]
        return ClientColumns(**kw)

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of successful client-rounds."""
        return self.status == "ok"

    def flop_column(self, kind: str, key: str) -> np.ndarray:
        """One FLOP column, e.g. ``flop_column("sparse", "forward")``."""
        block = self.flops_dense if kind == "dense" else self.flops_sparse
        return block[:, FLOP_BLOCK_KEYS.index(key)]


_COLUMN_FIELDS = fields(ClientColumns)


# ----------------------------------------------------------------------------------------------
# turning validated objects (msgspec Structs or typespec.Obj) into column chunks
#
# Each column is pulled out of a block's objects in one C-level pass (``map`` over an
# ``attrgetter`` into ``np.fromiter`` / ``np.array``): no Python code runs per record.

_INT_FIELDS = ("round", "client_id", "samples", "steps", "bytes_up", "bytes_up_dense", "bytes_down")
_FLOAT_FIELDS = ("wall_time_s", "cpu_time_s")
_NULLABLE_FLOAT_FIELDS = ("accelerator_time_s", "peak_mem_bytes", "train_loss", "lr", "timestamp")
#: String columns whose values come from a fixed list (msgspec hands back one shared str per value).
_ENUM_FIELDS = ("status", "mem_source")
_OBJ_FIELDS = ("run_id", "error", "device")
_ENERGY = attrgetter("energy")
_ESTIMATE = attrgetter("energy_estimate")
_FLAGS = attrgetter("flags")


class _NoEstimate:
    """What a record without ``energy_estimate`` reads as in the estimate columns."""

    source = method = ""
    total_j = None


_NO_ESTIMATE = _NoEstimate()


def _ints(objs: list[Any], get: Callable[[Any], Any], n: int) -> np.ndarray:
    return np.fromiter(map(get, objs), dtype=np.int64, count=n)


def _floats(objs: list[Any], get: Callable[[Any], Any]) -> np.ndarray:
    """Float column with None as NaN (numpy turns None into NaN for a float dtype)."""
    return np.array(list(map(get, objs)), dtype=np.float64)


def _strs(objs: list[Any], get: Callable[[Any], Any], cache: dict[Any, Any] | None) -> np.ndarray:
    """Object column of strings (or None), equal strings shared: 8 bytes a row, not one str per row.

    ``cache`` None: the values are already shared (msgspec's enumeration values).
    """
    vals = list(map(get, objs))
    out = np.empty(len(vals), dtype=object)
    out[:] = vals if cache is None else list(map(cache.setdefault, vals, vals))
    return out


def _chunk(objs: list[Any], lines: np.ndarray, cache: dict[Any, Any] | None = None,
           want: frozenset[str] | None = None, shared_enums: bool = False) -> dict[str, Any]:
    """Column chunk of one block's validated records.

    ``cache``: the strings seen so far; ``want``: the columns to build (None: all);
    ``shared_enums``: enumeration strings are already one object per value (msgspec).
    """
    n = len(objs)
    cache = {} if cache is None else cache
    enum_cache = None if shared_enums else cache

    def wanted(name: str) -> bool:
        return want is None or name in want

    c: dict[str, Any] = {"line": lines}
    for name in _INT_FIELDS:
        if wanted(name):
            c[name] = _ints(objs, attrgetter(name), n)
    for name in _FLOAT_FIELDS + _NULLABLE_FLOAT_FIELDS:
        if wanted(name):
            c[name] = _floats(objs, attrgetter(name))
    for name in _ENUM_FIELDS:
        if wanted(name):
            c[name] = _strs(objs, attrgetter(name), enum_cache)
    for name in _OBJ_FIELDS:
        if wanted(name):
            c[name] = _strs(objs, attrgetter(name), cache)
    if wanted("flags"):
        c["flags"] = _strs(list(map(_FLAGS, objs)), ";".join, cache)
    k = len(FLOP_BLOCK_KEYS)
    for kind in ("dense", "sparse"):
        if wanted(f"flops_{kind}"):
            block = np.empty((n, k), dtype=np.int64)
            blocks = list(map(attrgetter(f"flops.{kind}"), objs))
            for j, key in enumerate(FLOP_BLOCK_KEYS):
                block[:, j] = _ints(blocks, attrgetter(key), n)
            c[f"flops_{kind}"] = block
    energy = list(map(_ENERGY, objs))
    c["energy_source"] = _strs(energy, attrgetter("source"), enum_cache)
    if wanted("energy_method"):
        c["energy_method"] = _strs(energy, attrgetter("method"), cache)
    if wanted("energy_total_j"):
        c["energy_total_j"] = _floats(energy, attrgetter("total_j"))
    if wanted("energy_duration_s"):
        c["energy_duration_s"] = _floats(energy, attrgetter("duration_s"))
    if wanted("energy_attribution"):
        c["energy_attribution"] = _strs(energy, attrgetter("attribution"), enum_cache)
    est = list(map(_ESTIMATE, objs))
    if None in est:
        est = [_NO_ESTIMATE if e is None else e for e in est]
    c["energy_estimate_source"] = _strs(est, attrgetter("source"), enum_cache)
    if wanted("energy_estimate_method"):
        c["energy_estimate_method"] = _strs(est, attrgetter("method"), cache)
    if wanted("energy_estimate_total_j"):
        c["energy_estimate_total_j"] = _floats(est, attrgetter("total_j"))
    return c


class _Layers:
    """The density layer order of a trace: that of its first record with densities."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.names: tuple[str, ...] | None = None
        self.first_line = 0

    def columns(self, objs: list[Any], lines: np.ndarray,
                values: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
        """(weight, activation) of one block, (n, L); NaN rows for records without densities.

        With ``values`` false only the layer names are checked (and None returned).
        """
        dens = list(map(_DENSITIES, objs))
        n = len(dens)
        if self.names is None:
            i = next((i for i, d in enumerate(dens) if d), None)
            if i is None:
                return (np.full((n, 0), NAN), np.full((n, 0), NAN)) if values else None
            self.names, self.first_line = tuple(dens[i]), int(lines[i])
        names = list(self.names)
        width = len(names)
        full = list(map(names.__eq__, map(list, dens)))
        every = all(full)
        if not every:
            wrong = [i for i, (d, ok) in enumerate(zip(dens, full)) if d and not ok]
            if wrong:
                i = wrong[0]
                raise TraceFormatError(f"{self.path}:{int(lines[i])}: densities: layers differ from line "
                                       f"{self.first_line} ({', '.join(dens[i])} vs {', '.join(names)})")
        if not values:
            return None
        rows = n if every else sum(full)
        vals = list(chain.from_iterable(map(dict.values, dens if every else compress(dens, full))))
        w = np.fromiter(map(_WEIGHT, vals), dtype=np.float64, count=rows * width).reshape(rows, width)
        a = np.fromiter(map(_ACTIVATION, vals), dtype=np.float64, count=rows * width).reshape(rows, width)
        if every:
            return w, a
        keep = np.array(full, dtype=bool)
        w_all, a_all = np.full((n, width), NAN), np.full((n, width), NAN)
        w_all[keep], a_all[keep] = w, a
        return w_all, a_all


_DENSITIES = attrgetter("densities")
_WEIGHT = attrgetter("weight")
_ACTIVATION = attrgetter("activation")
_EXTRA = attrgetter("extra")
_NUMBER_TYPES = frozenset({int, float})  # not bool: JSON true/false are not numbers


def _extra_columns(objs: list[Any]) -> dict[str, np.ndarray]:
    """The numeric values of the records' extra objects, one float column per key (NaN where absent)."""
    extras = list(map(_EXTRA, objs))
    n = len(extras)
    keys = list(extras[0]) if extras else []
    if keys and all(map(keys.__eq__, map(list, extras))):
        out = {}
        for k in keys:
            vals = list(map(itemgetter(k), extras))
            if set(map(type, vals)) <= _NUMBER_TYPES:
                out[k] = np.array(vals, dtype=np.float64)
            else:
                out[k] = np.array([v if _is_number(v) else NAN for v in vals], dtype=np.float64)
        return out
    cols: dict[str, np.ndarray] = {}
    for i, e in enumerate(extras):
        for k, v in e.items():
            if _is_number(v):
                if k not in cols:
                    cols[k] = np.full(n, NAN)
                cols[k][i] = v
    return cols


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


#: Above this many distinct batch sizes in a block, triplets come from one flat array (sorted).
_FEW_SIZES = 6
_BATCHES = attrgetter("batch_sizes")


def _batch_triplets(objs: list[Any], first_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(record row, batch size, count) of each distinct batch size each record ran, sorted by row then size.

    Records run few distinct sizes (the batch and a partial last one), so each record's list is
    counted per candidate size (``list.count``, in C) instead of converting every entry; a
    record holding a size no candidate covers sends the block down the flat-array path.
    """
    batches = list(map(_BATCHES, objs))
    n = len(batches)
    lengths = np.fromiter(map(len, batches), dtype=np.int64, count=n)
    ran = list(filter(None, batches))
    sizes = sorted(set(map(itemgetter(0), ran)) | set(map(itemgetter(-1), ran)))
    if len(sizes) <= _FEW_SIZES:
        counts = np.empty((n, len(sizes)), dtype=np.int64)
        for j, s in enumerate(sizes):
            counts[:, j] = np.fromiter(map(list.count, batches, repeat(s)), dtype=np.int64, count=n)
        if (counts.sum(axis=1) == lengths).all():
            rec, j = np.nonzero(counts)
            return rec + first_row, np.asarray(sizes, dtype=np.int64)[j], counts[rec, j]
    size = np.fromiter(chain.from_iterable(batches), dtype=np.int64, count=int(lengths.sum()))
    if not len(size):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    rec = np.repeat(np.arange(n, dtype=np.int64), lengths)
    width = int(size.max()) + 1
    keys, counts = np.unique(rec * width + size, return_counts=True)
    return keys // width + first_row, keys % width, counts.astype(np.int64)


def _missing(dtype: np.dtype) -> Any:
    """The null of a column: NaN for floats, None for strings (integer columns are never missing)."""
    if dtype.kind == "f":
        return NAN
    if dtype.kind == "O":
        return None
    raise ValueError(f"an integer column cannot be missing (dtype {dtype})")


class _Buffers:
    """Column arrays filled block by block in place: no per-block arrays kept, no final concatenation."""

    def __init__(self, capacity: int) -> None:
        self.cap = max(int(capacity), 1)
        self.n = 0
        self.cols: dict[str, np.ndarray] = {}

    def _grow(self, need: int) -> None:
        cap = max(need, int(self.cap * 1.5) + 1)
        for k, v in self.cols.items():
            new = np.empty((cap,) + v.shape[1:], dtype=v.dtype)
            new[: self.n] = v[: self.n]
            self.cols[k] = new
        self.cap = cap

    def add(self, chunk: Mapping[str, np.ndarray]) -> None:
        """Append one block's columns (a column it lacks gets nulls for its rows)."""
        n = len(chunk["line"])
        end = self.n + n
        if end > self.cap:
            self._grow(end)
        for k, arr in chunk.items():
            buf = self.cols.get(k)
            if buf is None:
                buf = self.cols[k] = np.empty((self.cap,) + arr.shape[1:], dtype=arr.dtype)
                if self.n:
                    buf[: self.n] = _missing(arr.dtype)
            buf[self.n:end] = arr
        for k, buf in self.cols.items():
            if k not in chunk and n:
                buf[self.n:end] = _missing(buf.dtype)
        self.n = end

    def get(self, name: str) -> np.ndarray | None:
        """The filled rows of a column (None: never built)."""
        v = self.cols.get(name)
        return None if v is None else v[: self.n]


def _assemble(bufs: _Buffers, path: Path, layers: _Layers,
              batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None) -> ClientColumns:
    kw: dict[str, Any] = {f.name: bufs.get(f.name) for f in fields(ClientColumns)
                          if f.name not in ("layers", "extra") and not f.name.startswith("batch_")}
    for key in ("density_weight", "density_activation"):
        if kw[key] is None and layers.names is None and "flops_dense" in bufs.cols:
            kw[key] = np.full((bufs.n, 0), NAN)  # asked for, but no record has densities
    if layers.names is None and kw["density_weight"] is None and bufs.n == 0:
        kw["density_weight"] = kw["density_activation"] = np.full((0, 0), NAN)
    kw["extra"] = {k[len(EXTRA_PREFIX):]: bufs.get(k) for k in bufs.cols if k.startswith(EXTRA_PREFIX)}
    kw["layers"] = layers.names or ()
    if batches is not None:
        parts = list(zip(*batches)) if batches else [(), (), ()]
        kw["batch_record"], kw["batch_size"], kw["batch_count"] = (
            np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts)
    cols = ClientColumns(**kw)
    _check_columns(cols, path)
    return cols


EXTRA_PREFIX = "extra."


# ----------------------------------------------------------------------------------------------
# checks that span fields or records (the same for both decoders)


def _check_columns(c: ClientColumns, path: Path) -> None:
    """Energy sources in the right block, memory source vs value, no (round, client) twice."""
    bad = ~np.isin(c.energy_source, MEASURED_SOURCES) | ~np.isin(c.energy_estimate_source, ("",) + ESTIMATE_SOURCES)
    if bad.any():
        i = int(np.argmax(bad))
        try:
            check_energy_sources(str(c.energy_source[i]), str(c.energy_estimate_source[i]) or None)
        except TraceFormatError as exc:
            raise TraceFormatError(f"{path}:{int(c.line[i])}: {exc}") from None
    bad = np.isnan(c.peak_mem_bytes) != (c.mem_source == "none")
    if bad.any():
        i = int(np.argmax(bad))
        raise TraceFormatError(f"{path}:{int(c.line[i])}: peak_mem_bytes is null exactly when mem_source is 'none'")
    check_unique_keys(c.round, c.client_id, c.line, path)


def check_unique_keys(rounds: np.ndarray, clients: np.ndarray, lines: np.ndarray, path: Path | str) -> None:
    """One record per (round, client): a repeat is a TraceFormatError naming both lines."""
    if len(rounds) < 2:
        return
    order = np.lexsort((lines, clients, rounds))
    r, k = rounds[order], clients[order]
    dup = (r[1:] == r[:-1]) & (k[1:] == k[:-1])
    if not dup.any():
        return
    # the repeat that appears earliest in the file
    second = order[1:][dup]
    j = int(second[np.argmin(lines[second])])
    first = order[:-1][dup][np.argmin(lines[second])]
    raise TraceFormatError(f"{path}:{int(lines[j])}: duplicate record for round {int(rounds[j])}, client "
                           f"{int(clients[j])} (first at line {int(lines[first])})")


# ----------------------------------------------------------------------------------------------
# reading


_NEWLINE = ord("\n")


def _blocks(path: Path, start: int = 0, end: int | None = None,
            lineno: int = 1) -> Iterator[tuple[int, int, memoryview]]:
    """(first line number, number of lines, bytes) of consecutive whole-line blocks of bytes [start, end).

    ``start`` is a line start and ``lineno`` its line number; ``end`` (None: the end of the file) is
    a line end or the end of the file. Each block is read once and handed on as a view (no copy);
    the partial line at its end is read again with the next block.
    """
    with open(path, "rb", buffering=0) as fh:
        fh.seek(start)
        left = (os.fstat(fh.fileno()).st_size if end is None else end) - start
        while left > 0:
            buf = fh.read(min(BLOCK_BYTES, left))
            if not buf:
                return
            cut = buf.rfind(b"\n") + 1
            while cut == 0:  # a line longer than a block: read on to its end
                more = fh.read(min(BLOCK_BYTES, left - len(buf)))
                if not more:
                    # a last line without its newline: a record still being appended (or torn by a
                    # kill), not complete, so not read (the record readers skip it the same way)
                    return
                at = len(buf)
                buf += more
                cut = buf.rfind(b"\n", at) + 1
            n_lines = int(np.count_nonzero(np.frombuffer(buf, dtype=np.uint8, count=cut) == _NEWLINE))
            yield lineno, n_lines, memoryview(buf)[:cut]
            lineno += n_lines
            left -= cut
            if cut < len(buf):
                fh.seek(cut - len(buf), os.SEEK_CUR)


def _line_numbers(block: bytes | memoryview, first: int, n_lines: int, n_objs: int) -> np.ndarray:
    """Line numbers of the non-blank lines of a block (msgspec skips blank lines)."""
    if n_objs == n_lines:
        return np.arange(first, first + n_lines, dtype=np.int64)
    lines = bytes(block).split(b"\n")
    return np.array([first + i for i, ln in enumerate(lines) if ln.strip()], dtype=np.int64)


def _slow_block(block: bytes | memoryview, first: int, path: Path,
                convert: Callable[[dict[str, Any]], dict[str, Any]] | None) -> tuple[list[Any], np.ndarray]:
    """Standard-library decoding and typespec checking, line by line; the first bad line is named."""
    objs: list[Any] = []
    lines: list[int] = []
    for i, raw in enumerate(bytes(block).split(b"\n")):
        if not raw.strip():
            continue
        lineno = first + i
        objs.append(check_line(raw, lineno, path, convert))
        lines.append(lineno)
    return objs, np.array(lines, dtype=np.int64)


def check_line(raw: bytes | str, lineno: int, path: Path | str,
               convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None, *, as_obj: bool = True) -> Any:
    """One trace line decoded and validated as a client-round record (convert: a version upgrader)."""
    obj = decoders.decode_object(raw, path, lineno)
    try:
        if convert is not None:
            obj = convert(obj)
        _version_of(obj)
        return check(obj, ClientRoundRecord, "", as_obj=as_obj)
    except TraceFormatError as exc:
        raise TraceFormatError(f"{path}:{lineno}: {exc}") from None


def _version_of(obj: Mapping[str, Any]) -> None:
    from .schema import _check_version

    if "schema_version" not in obj:
        raise TraceFormatError("record lacks required field(s): schema_version")
    _check_version(obj["schema_version"])


#: Traces smaller than this are read in this process. Measured on 2 idle cores (engine lines, all
#: columns, medians of 5 alternating): two workers took 1.59x the wall time of one process on 8 MiB,
#: 1.00x on 32 MiB, 0.89x on 64 MiB, 0.77x on 128 MiB (starting and stopping the pool: 6 ms; the
#: parent's joining and the pickled columns cost 10-45% more CPU in all). See docs/traces.md.
PARALLEL_MIN_BYTES = 64 << 20
#: Bytes of trace per worker task: small enough that results arrive steadily (the parent copies each
#: into the columns and frees it, so at most a few ranges' columns exist twice) and that stopping a
#: pool waits for little; large enough that each task's start-up and transfer are noise.
RANGE_BYTES = 32 << 20


@dataclass(frozen=True)
class _Part:
    """The columns of one byte range, line numbers counted from ``first_line`` (rows from 0)."""

    first_line: int
    n_lines: int
    cols: dict[str, np.ndarray]
    layer_names: tuple[str, ...] | None
    layer_first: int
    batches: tuple[np.ndarray, np.ndarray, np.ndarray] | None


class _Reader:
    """Decodes, validates and columns whole-line blocks into one set of buffers (a file or one range of it)."""

    def __init__(self, path: Path, name: str, want: frozenset[str] | None,
                 convert: Callable[[dict[str, Any]], dict[str, Any]] | None) -> None:
        self.path, self.want, self.convert = path, want, convert
        self.fast = decoders.typed_lines_decoder(ClientRoundRecord) if name == "msgspec" else None
        self.layers = _Layers(path)
        self.cache: dict[Any, Any] = {}
        self.bufs: _Buffers | None = None
        self.dens_wanted = want is None or "density_weight" in want or "density_activation" in want
        self.batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = (
            [] if want is None or "batch_sizes" in want else None)
        self.next_line = 1

    def read(self, start: int = 0, end: int | None = None, first_line: int = 1) -> None:
        """Add the records of bytes [start, end) (line boundaries), whose first line is ``first_line``."""
        size = (self.path.stat().st_size if end is None else end) - start
        self.next_line = first_line
        want = self.want
        for first, n_lines, block in _blocks(self.path, start, end, first_line):
            self.next_line = first + n_lines
            shared = self.fast is not None
            if self.fast is not None:
                try:
                    objs = self.fast(block)
                    lines = _line_numbers(block, first, n_lines, len(objs))
                except Exception:  # msgspec.ValidationError / DecodeError: find and word the bad line
                    objs, lines = _slow_block(block, first, self.path, None)
                    shared = False
            else:
                objs, lines = _slow_block(block, first, self.path, self.convert)
            if self.bufs is None:  # room for the whole range at this block's bytes per line
                self.bufs = _Buffers(size * max(len(objs), 1) // max(len(block), 1) * 21 // 20 + 16)
            if objs:
                ch = _chunk(objs, lines, self.cache, want, shared_enums=shared)
                dens = self.layers.columns(objs, lines, values=self.dens_wanted)
                if dens is not None and dens[0].shape[1]:
                    ch["density_weight"], ch["density_activation"] = dens
                if want is None or "extra" in want:
                    ch.update({EXTRA_PREFIX + k: v for k, v in _extra_columns(objs).items()})
                if self.batches is not None:
                    self.batches.append(_batch_triplets(objs, self.bufs.n))
                self.bufs.add(ch)
                del ch
            del objs

    def filled(self) -> _Buffers:
        if self.bufs is None or self.bufs.n == 0:
            self.bufs = _Buffers(1)
            self.bufs.add(_chunk([], np.zeros(0, dtype=np.int64), want=self.want))
        return self.bufs

    def columns(self) -> ClientColumns:
        return _assemble(self.filled(), self.path, self.layers, self.batches)

    def part(self, first_line: int) -> _Part:
        bufs = self.filled()
        batches = None
        if self.batches is not None:
            parts = list(zip(*self.batches)) if self.batches else [(), (), ()]
            b0, b1, b2 = (np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts)
            batches = (b0, b1, b2)
        return _Part(first_line, self.next_line - first_line, {k: bufs.get(k) for k in bufs.cols},
                     self.layers.names, self.layers.first_line, batches)


def _without_gc(fn: Callable[[], Any]) -> Any:
    """fn() with the garbage collector off: blocks create millions of short-lived objects and no cycles."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return fn()
    finally:
        if was_enabled:
            gc.enable()


def _read_part(path: Path, name: str, want: frozenset[str] | None, start: int, end: int,
               first_line: int = 1, layers: tuple[tuple[str, ...] | None, int] = (None, 0)) -> _Part:
    """One byte range as a :class:`_Part` (what a worker runs); ``layers``: the layer order found so far."""
    reader = _Reader(path, name, want, None)
    reader.layers.names, reader.layers.first_line = layers

    def go() -> _Part:
        reader.read(start, end, first_line)
        return reader.part(first_line)

    return _without_gc(go)


def _load_parallel(p: Path, name: str, want: frozenset[str] | None, size: int, workers: int) -> ClientColumns:
    """The file's ranges read in ``workers`` processes, then joined in file order.

    Workers number lines from 1; each range is renumbered from the line count of the ranges before
    it. A range whose worker failed (or whose layer order differs from the one found so far) is
    read again here with the true line numbers and layer order, so the error raised is the one the
    sequential read raises.
    """
    from contextlib import closing

    from .parallel import line_ranges, run_in_order

    ranges = line_ranges(p, size, max(workers, -(-size // RANGE_BYTES)))
    if name == "msgspec":
        decoders.typed_lines_decoder(ClientRoundRecord)  # built once here, inherited by forked workers
    layers = _Layers(p)
    bufs: _Buffers | None = None
    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = (
        [] if want is None or "batch_sizes" in want else None)
    next_line = 1
    with closing(run_in_order(_read_part, [(p, name, want, a, b) for a, b in ranges], workers)) as results:
        for (start, end), fut in zip(ranges, results):
            part: _Part | None = None if fut.exception() is not None else fut.result()
            if part is None or (part.layer_names is not None and layers.names is not None
                                and part.layer_names != layers.names):
                part = _read_part(p, name, want, start, end, next_line, (layers.names, layers.first_line))
            shift = next_line - part.first_line
            if layers.names is None and part.layer_names is not None:
                layers.names, layers.first_line = part.layer_names, part.layer_first + shift
            cols = part.cols
            if shift:
                cols["line"] = cols["line"] + shift
            if bufs is None:  # room for the whole file at this range's bytes per record
                bufs = _Buffers(size * max(len(cols["line"]), 1) // max(end - start, 1) * 21 // 20 + 16)
            if batches is not None and part.batches is not None:
                rec, bsize, count = part.batches
                batches.append((rec + bufs.n, bsize, count))
            bufs.add(cols)
            next_line += part.n_lines
            del part, cols, fut
    if bufs is None:  # no ranges: an empty file
        bufs = _Reader(p, name, want, None).filled()
    return _assemble(bufs, p, layers, batches)


def load_columns(path: str | Path, *, decoder: str = "auto",
                 convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 fields: Iterable[str] | None = None, workers: int | None = None) -> ClientColumns:
    """Read and validate trace.jsonl into :class:`ClientColumns`.

    ``convert`` upgrades each decoded line from an older schema version (the standard-library
    path is then used: old traces are small). ``decoder``: ``auto``, ``msgspec`` or ``json``.
    ``fields`` names the columns to build (None: all); every record is validated either way.
    ``workers``: processes for a trace of at least :data:`PARALLEL_MIN_BYTES` (None:
    ``$ZEROFL_LOAD_WORKERS``, else every usable core on Linux; 1: this process only). The
    columns, and any error, are the same however many are used.
    """
    from .parallel import worker_count

    want = None if fields is None else frozenset(fields) | CHECKED_FIELDS
    if want is not None:
        unknown = sorted(want - {f.name for f in _COLUMN_FIELDS} - {"batch_sizes"})
        if unknown:
            raise ValueError(f"not a trace column: {', '.join(unknown)}")
    n_workers = worker_count(workers)
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such trace file: {p}")
    name = "json" if convert is not None else decoders.resolve(decoder)
    size = p.stat().st_size
    if n_workers > 1 and convert is None and size >= max(PARALLEL_MIN_BYTES, 1):
        return _load_parallel(p, name, want, size, n_workers)
    reader = _Reader(p, name, want, convert)
    _without_gc(reader.read)
    return reader.columns()


__all__ = ["BLOCK_BYTES", "CHECKED_FIELDS", "PARALLEL_MIN_BYTES", "RANGE_BYTES", "ClientColumns", "check_line", "check_unique_keys", "load_columns"]
