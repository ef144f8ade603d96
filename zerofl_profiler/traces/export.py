"""A run as two flat tables -- one row per client-round, one per round -- for CSV, Parquet and pandas.

The client table is the trace's columns (:class:`~.columns.ClientColumns`) flattened: FLOP
blocks as ``flops_dense.forward`` ..., per-layer densities as ``density_weight.<layer>``, the
``extra`` numbers as ``extra.<key>``. The round table is rounds.jsonl, one row per round, with
the number of client-round records of that round. Callers add more columns (the estimated time
and energy per device: :mod:`zerofl_profiler.analysis.export`) as plain arrays.

CSV is written with the standard library (no extra needed): a null is an empty field, floats are
written so that they read back exactly. Parquet needs pyarrow and DataFrames need pandas: the
``data`` extra (``pip install 'zerofl-profiler[data]'``). Nulls (NaN in the columns) are Parquet
nulls. Files are written atomically (all or nothing).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInputError, MissingExtraError
from .atomic import atomic_open
from .schema import FLOP_BLOCK_KEYS

Table = dict[str, np.ndarray]
EXTRA_HINT = "pip install 'zerofl-profiler[data]'"


class MissingDataExtraError(MissingExtraError, BadInputError):
    """A format or API that needs the ``data`` extra (pandas, pyarrow), which is not installed: exit 2."""

    exit_code = 2


def require(module: str, what: str) -> Any:
    """Import an optional module of the ``data`` extra, or fail in one line naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDataExtraError(f"{what} needs {module}, which is not installed: it comes with the 'data' "
                                    f"extra ({EXTRA_HINT})") from None


def client_table(run: Any) -> Table:
    """One flat row per client-round record (file order)."""
    c = run.columns
    t: Table = {}
    for name in ("run_id", "round", "client_id", "status", "error", "device", "samples", "steps", "bytes_up",
                 "bytes_up_dense", "bytes_down", "wall_time_s", "cpu_time_s", "accelerator_time_s", "peak_mem_bytes",
                 "mem_source", "train_loss", "lr", "timestamp", "flags"):
        t[name] = getattr(c, name)
    for kind, block in (("dense", c.flops_dense), ("sparse", c.flops_sparse)):
        for j, key in enumerate(FLOP_BLOCK_KEYS):
            t[f"flops_{kind}.{key}"] = block[:, j]
    for j, layer in enumerate(c.layers):
        t[f"density_weight.{layer}"] = c.density_weight[:, j]
    for j, layer in enumerate(c.layers):
        t[f"density_activation.{layer}"] = c.density_activation[:, j]
    for name in ("energy_source", "energy_method", "energy_total_j", "energy_duration_s", "energy_attribution",
                 "energy_estimate_source", "energy_estimate_method", "energy_estimate_total_j"):
        t[name] = getattr(c, name)
    for key, col in c.extra.items():
        t[f"extra.{key}"] = col
    return t


def round_table(run: Any) -> Table:
    """One row per round record, with the number of client-round records of each round."""
    rs = run.rounds
    n = len(rs)

    def num(get: Callable[[Any], Any]) -> np.ndarray:
        return np.fromiter((math.nan if get(r) is None else get(r) for r in rs), dtype=np.float64, count=n)

    rounds = np.fromiter((r.round for r in rs), dtype=np.int64, count=n)
    ids, counts = np.unique(run.columns.round, return_counts=True)
    per_round = dict(zip(ids.tolist(), counts.tolist()))
    records = np.fromiter((per_round.get(r, 0) for r in rounds.tolist()), dtype=np.int64, count=n)
    return {
        "round": rounds,
        "sampled_clients": np.fromiter((len(r.sampled_clients) for r in rs), dtype=np.int64, count=n),
        "completed_clients": np.fromiter((len(r.completed_clients) for r in rs), dtype=np.int64, count=n),
        "failed_clients": np.fromiter((len(r.failed_clients) for r in rs), dtype=np.int64, count=n),
        "client_records": records,
        "aggregation_time_s": num(lambda r: r.aggregation_time_s),
        "round_wall_time_s": num(lambda r: r.round_wall_time_s),
        "test_accuracy": num(lambda r: r.test_accuracy),
        "test_loss": num(lambda r: r.test_loss),
        "lr": num(lambda r: r.lr),
        "energy_source": np.array([r.energy.source for r in rs], dtype=object),
        "energy_total_j": num(lambda r: r.energy.total_j),
        "energy_estimate_total_j": num(lambda r: r.energy_estimate.total_j if r.energy_estimate else None),
    }


TABLES: dict[str, Callable[[Any], Table]] = {"clients": client_table, "rounds": round_table}


def build_table(run: Any, table: str, extra: Mapping[str, np.ndarray] | None = None) -> Table:
    """The named table with ``extra`` columns appended (each as long as the table)."""
    if table not in TABLES:
        raise BadInputError(f"unknown table {table!r}; choose from {', '.join(TABLES)}")
    t = TABLES[table](run)
    n = len(next(iter(t.values()))) if t else 0
    for name, col in (extra or {}).items():
        col = np.asarray(col)
        if len(col) != n:
            raise ValueError(f"column {name} has {len(col)} rows, the {table} table {n}")
        if name in t:
            raise ValueError(f"column {name} is already in the {table} table")
        t[name] = col
    return t


# ----------------------------------------------------------------------------------------------
# writers


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else repr(float(v))
    if isinstance(v, (np.integer,)):
        return str(int(v))
    return str(v)


def write_csv(table: Table, path: str | Path) -> None:
    """CSV with a header row; nulls empty, floats exact (standard library only)."""
    names = list(table)
    cols = [table[k].tolist() for k in names]
    with atomic_open(path, "w") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(names)
        for row in zip(*cols):
            w.writerow([_cell(v) for v in row])


def _arrow_table(table: Table) -> Any:
    pa = require("pyarrow", "--format parquet")
    arrays = []
    for name, col in table.items():
        if col.dtype.kind == "f":
            arrays.append(pa.array(col, from_pandas=True))  # NaN -> null
        elif col.dtype.kind in "iub":
            arrays.append(pa.array(col))
        else:
            arrays.append(pa.array([None if v is None else str(v) for v in col.tolist()], type=pa.string()))
    return pa.Table.from_arrays(arrays, names=list(table))


def write_parquet(table: Table, path: str | Path) -> None:
    """Parquet (pyarrow), nulls as nulls."""
    arrow = _arrow_table(table)
    import pyarrow.parquet as pq

    with atomic_open(path, "wb") as fh:
        pq.write_table(arrow, fh)


WRITERS: dict[str, Callable[[Table, str | Path], None]] = {"csv": write_csv, "parquet": write_parquet}
#: What each format needs beyond the core install (checked before anything is written).
NEEDS: dict[str, tuple[str, ...]] = {"csv": (), "parquet": ("pyarrow",)}


def check_format(fmt: str) -> None:
    """A known format whose dependencies are installed (one line otherwise, exit 2)."""
    if fmt not in WRITERS:
        raise BadInputError(f"unknown export format {fmt!r}; choose from {', '.join(WRITERS)}")
    for module in NEEDS[fmt]:
        require(module, f"--format {fmt}")


def rounds_path(path: str | Path) -> Path:
    """Where the round table goes beside the client table: ``NAME.rounds.EXT``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.rounds{p.suffix}")


def write_tables(tables: Mapping[str, Table], fmt: str, path: str | Path) -> list[Path]:
    """Write the client table to ``path`` and the round table beside it; returns the paths."""
    check_format(fmt)
    out = {"clients": Path(path), "rounds": rounds_path(path)}
    for name, t in tables.items():
        WRITERS[fmt](t, out[name])
    return [out[name] for name in tables]


def to_dataframe(run: Any, table: str = "clients", extra: Mapping[str, np.ndarray] | None = None) -> Any:
    """The table as a pandas DataFrame: the same columns and values as the export writes."""
    pd = require("pandas", "to_dataframe()")
    t = build_table(run, table, extra)
    return pd.DataFrame({k: (v.astype(object) if v.dtype.kind == "U" else v) for k, v in t.items()})
