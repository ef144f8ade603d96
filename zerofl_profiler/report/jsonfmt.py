"""The report as one JSON document (every number in SI base units, names with unit suffixes)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .model import Report

REPORT_SCHEMA = "zerofl-report/1"


def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data."""
    runs = []
    for s in report.summaries:
        d = dataclasses.asdict(s)
        d["config"] = {k: v for k, v in s.config}
        d["devices"] = [dict(dataclasses.asdict(c), speedup=c.speedup, energy_saving=c.energy_saving,
                             mean_time_s=c.mean_time_s, mean_energy_j=c.mean_energy_j)
                        for c in report.costs.get(s.run_id, ())]
        runs.append(d)
    return {"schema": REPORT_SCHEMA, "target_accuracy": report.target_accuracy, "runs": runs}


def render_json(report: Report) -> str:
    """One JSON document, strict (no NaN)."""
    from ..jsondoc import dumps_strict

    return dumps_strict(report_dict(report)) + "\n"
