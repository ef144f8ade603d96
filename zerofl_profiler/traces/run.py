"""A recorded run directory as one object, for estimators, reports and plots."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError, TraceFormatError
from .io import read_client_records, read_layers, read_round_records
from .schema import CONFIG_FILE, LAYERS_FILE, ROUNDS_FILE, TRACE_FILE, ClientRoundRecord, RoundRecord


@dataclass(frozen=True)
class RunData:
    """Everything a run directory holds, validated."""

    path: Path
    config: dict[str, Any]
    clients: list[ClientRoundRecord]
    rounds: list[RoundRecord]
    layers: dict[str, Any] | None

    @property
    def run_id(self) -> str:
        """The run's id (from the config, else the directory name)."""
        return str(self.config.get("run_id") or self.path.name)

    @property
    def name(self) -> str:
        """A short label for tables and legends."""
        return str(self.config.get("name") or self.path.name)


def load_run(path: str | Path) -> RunData:
    """Load and validate RUN_DIR (config.toml, trace.jsonl, rounds.jsonl, layers.json).

    A bare trace.jsonl path is accepted too (config, rounds and layers then come from its folder
    where present).
    """
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"no such run directory: {p}")
    run_dir = p if p.is_dir() else p.parent
    trace = p if p.is_file() else run_dir / TRACE_FILE
    if not trace.is_file():
        raise BadInputError(f"{run_dir} is not a run directory (no {TRACE_FILE})")
    config: dict[str, Any] = {}
    cfg = run_dir / CONFIG_FILE
    if cfg.is_file():
        try:
            config = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise TraceFormatError(f"{cfg}: malformed TOML ({exc})") from None
        except RecursionError:
            raise TraceFormatError(f"{cfg}: malformed TOML (nested too deeply)") from None
    clients = read_client_records(trace)
    rounds = read_round_records(run_dir / ROUNDS_FILE) if (run_dir / ROUNDS_FILE).is_file() else []
    layers = read_layers(run_dir / LAYERS_FILE) if (run_dir / LAYERS_FILE).is_file() else None
    return RunData(run_dir, config, clients, rounds, layers)
