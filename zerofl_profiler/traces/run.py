"""A recorded run directory as one object, for estimators, reports, plots and exports.

``load_run`` reads the client-round records as columns (:mod:`.columns`: what costing and export
use, fast enough for 10^6 records); ``RunData.clients`` builds one record object per line on
first use (what reports and summaries of ordinary runs use).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..config import RunConfig, load_toml
from ..errors import BadInputError, TraceFormatError
from .columns import ClientColumns, load_columns
from .io import file_version, iter_jsonl, read_client_records, read_round_records
from .layers import LayersDoc
from .rundir import RunDir, StoredRun
from .schema import (
    CONFIG_FILE,
    LAYERS_FILE,
    ROUNDS_FILE,
    SCHEMA_VERSION,
    TRACE_FILE,
    TRACE_TABLE,
    ClientRoundRecord,
    RoundRecord,
    TraceInfo,
)
from .upgrade import V1, trace_info_v1, upgrade_client


@dataclass(frozen=True)
class RunData:
    """Everything a run directory holds, validated and typed; ``version`` is the schema version on disk.

    ``stored`` is None for a bare trace without a config.toml beside it; ``layers`` None when the
    run has no layers.json.
    """

    path: Path
    stored: StoredRun | None
    trace: TraceInfo
    columns: ClientColumns
    rounds: list[RoundRecord]
    layers: LayersDoc | None
    version: int = SCHEMA_VERSION
    trace_path: Path = field(default=Path(TRACE_FILE))

    @property
    def config(self) -> RunConfig | None:
        """The run's typed options (None without a config.toml)."""
        return None if self.stored is None else self.stored.config

    @property
    def run_id(self) -> str:
        """The run's id (from the config, else the directory name)."""
        return self.stored.run_id if self.stored is not None and self.stored.run_id else self.path.name

    @property
    def name(self) -> str:
        """A short label for tables and legends."""
        cfg = self.config
        return str(cfg.name) if cfg is not None and cfg.name else self.path.name

    def __repr__(self) -> str:
        return (f"RunData({str(self.path)!r}, run_id={self.run_id!r}, client_rounds={len(self.columns)}, "
                f"rounds={len(self.rounds)}, schema v{self.version})")

    @cached_property
    def clients(self) -> list[ClientRoundRecord]:
        """Every client-round record as an object (read on first use; large traces: use ``columns``)."""
        return read_client_records(self.trace_path, energy_skipped=self.trace.energy_skipped)

    def to_dataframe(self, table: str = "clients", extra: Mapping[str, Any] | None = None) -> Any:
        """The export table as a pandas DataFrame (needs the ``data`` extra); ``extra``: more columns."""
        from .export import to_dataframe

        return to_dataframe(self, table, extra)


def read_config(run_dir: Path) -> dict[str, Any]:
    """config.toml as a dict ({} when absent); malformed TOML is one line naming the file."""
    cfg = run_dir / CONFIG_FILE
    if not cfg.is_file():
        return {}
    return load_toml(cfg)


def trace_info(run_dir: Path, config: Mapping[str, Any], trace: Path) -> tuple[int, TraceInfo]:
    """(schema version on disk, the run's constants) for a run directory."""
    version = file_version(trace)
    table = config.get(TRACE_TABLE)
    if version is None:
        version = SCHEMA_VERSION if isinstance(table, Mapping) else V1
    if version == V1:
        first = next((obj for _, obj in iter_jsonl(trace)), None)
        return V1, trace_info_v1(config, first)
    if version != SCHEMA_VERSION:
        from .schema import READABLE_VERSIONS

        raise TraceFormatError(f"{trace}:1: trace schema version {version!r} is not supported (this "
                               f"zerofl-profiler reads versions {', '.join(map(str, READABLE_VERSIONS))})")
    where = run_dir / CONFIG_FILE
    if not isinstance(table, Mapping):
        raise TraceFormatError(f"{where}: no [{TRACE_TABLE}] table (a version-{version} trace keeps the run's "
                               f"engine, upload, encoding and energy skip reasons there)")
    return version, TraceInfo.from_dict(table, f"{where}: [{TRACE_TABLE}]")


def load_run(path: str | Path, *, decoder: str = "auto", fields: Iterable[str] | None = None,
             workers: int | None = None) -> RunData:
    """Load and validate RUN_DIR (config.toml, trace.jsonl, rounds.jsonl, layers.json).

    A bare trace.jsonl path is accepted too (config, rounds and layers then come from its folder
    where present). ``decoder`` picks the JSON decoder (``auto``: msgspec where installed);
    ``fields`` the client-round columns to build (None: all; every record is validated either way);
    ``workers`` the processes that read a large trace (see :func:`.columns.load_columns`).
    """
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"no such run directory: {p}")
    run_dir = p if p.is_dir() else p.parent
    trace = p if p.is_file() else run_dir / TRACE_FILE
    if not trace.is_file():
        raise BadInputError(f"{run_dir} is not a run directory (no {TRACE_FILE})")
    rd = RunDir(run_dir)  # reads only: never takes the writer's lock
    config = read_config(run_dir)
    stored = rd.read_config() if rd.config_path.is_file() else None
    version, info = trace_info(run_dir, config, trace)
    columns = load_columns(trace, decoder=decoder, convert=upgrade_client if version == V1 else None, fields=fields,
                           workers=workers)
    rounds = (read_round_records(run_dir / ROUNDS_FILE, energy_skipped=info.energy_skipped)
              if (run_dir / ROUNDS_FILE).is_file() else [])
    return RunData(run_dir, stored, info, columns, rounds, rd.read_layers(), version, trace)
