"""The report as an ordered list of sections: the one structure every format renders.

Markdown, HTML and JSON walk the same :func:`sections` output, so they cannot drift apart; HTML
adds the figures after the overview section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..analysis.comparison import RunComparison
from .tables import (Table, assumptions_table, calibration_table, comparison_table, config_table, device_table, estimate_notes,
                     host_estimate_notes, layers_table, side_by_side_table)

NO_DEVICE_NOTE = ("no device estimates: pass --device NAME (see `zerofl-profile devices`) to estimate time, "
                  "energy and memory on a device")


@dataclass(frozen=True)
class Section:
    """A heading (level 1 = the document, 2 = one run), short paragraphs, tables and notes (plain text)."""

    key: str
    title: str
    level: int
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"key": self.key, "title": self.title, "level": self.level, "paragraphs": list(self.paragraphs),
                "tables": [t.to_json() for t in self.tables], "notes": list(self.notes)}


def title(comparison: RunComparison) -> str:
    """The document title."""
    return f"zerofl-profiler report: {', '.join(s.name for s in comparison.summaries)}"


def sections(comparison: RunComparison) -> tuple[Section, ...]:
    """Overview (runs side by side) first, then one section per run."""
    overview_notes = () if comparison.costs else (NO_DEVICE_NOTE,)
    out = [Section("overview", title(comparison), 1,
                   ("Labels: measured = timers, energy counters and encoded payloads of this run; counted = the "
                    "FLOP counter at the run's measured densities; estimated = a device model, whose assumptions "
                    "each run's section lists.",),
                   (comparison_table(comparison.summaries),), overview_notes)]
    for s in comparison.summaries:
        costs = comparison.costs_of(s)
        tables = [config_table(s)]
        if s.top_layers:
            tables.append(layers_table(s))
        tables.append(side_by_side_table(s, costs))
        check = comparison.check_of(s)
        if check is not None and check.device is not None:
            tables.append(calibration_table(s, check))
        if costs:
            tables += [device_table(s, costs), assumptions_table(s, costs)]
        check_note = () if check is None else (f"measured vs estimated: {check.match.note}",)
        notes = (tuple(f"estimate note: {n}" for n in estimate_notes(costs)) + check_note + host_estimate_notes(s)
                 + s.warnings)
        out.append(Section(f"run:{s.run_id}", s.name, 2, (f"run directory {s.path} (run id {s.run_id})",),
                           tuple(tables), notes))
    return tuple(out)


__all__ = ["NO_DEVICE_NOTE", "Section", "sections", "title"]
