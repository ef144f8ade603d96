"""A recorded run directory as one typed object, for estimators, reports and plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import RunConfig
from ..errors import BadInputError
from .io import read_client_records, read_round_records
from .layers import LayersDoc
from .rundir import RunDir, StoredRun
from .schema import TRACE_FILE, ClientRoundRecord, RoundRecord


@dataclass(frozen=True, repr=False)
class RunData:
    """Everything a run directory holds, validated and typed.

    ``stored`` is None for a bare trace without a config.toml beside it; ``layers`` None when the
    run has no layers.json.
    """

    path: Path
    stored: StoredRun | None
    clients: list[ClientRoundRecord]
    rounds: list[RoundRecord]
    layers: LayersDoc | None

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
        return (self.stored.name if self.stored is not None else None) or self.path.name

    def __repr__(self) -> str:
        """One line (the records are in the fields)."""
        return (f"RunData({str(self.path)!r}, run_id={self.run_id!r}, clients={len(self.clients)}, "
                f"rounds={len(self.rounds)}, layers={'yes' if self.layers is not None else 'no'})")


def load_run(path: str | Path) -> RunData:
    """Load and validate RUN_DIR (config.toml, trace.jsonl, rounds.jsonl, layers.json).

    A bare trace.jsonl path is accepted too (config, rounds and layers then come from its folder
    where present). Never takes the writer's lock: a run being written reads as its complete records.
    """
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"no such run directory: {p}")
    rd = RunDir(p if p.is_dir() else p.parent)
    trace = p if p.is_file() else rd.trace_path
    if not trace.is_file():
        raise BadInputError(f"{rd.path} is not a run directory (no {TRACE_FILE})")
    stored = rd.read_config() if rd.config_path.is_file() else None
    clients = read_client_records(trace)
    rounds = read_round_records(rd.rounds_path) if rd.rounds_path.is_file() else []
    return RunData(rd.path, stored, clients, rounds, rd.read_layers())
