"""The report as data: run summaries, device estimates and the target, before any rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..analysis.summary import RunSummary
from .costs import DeviceCost


@dataclass(frozen=True)
class Report:
    """What every output format renders; ``costs`` maps run_id to its device estimates."""

    summaries: tuple[RunSummary, ...]
    costs: Mapping[str, tuple[DeviceCost, ...]] = field(default_factory=dict)
    target_accuracy: float | None = None
