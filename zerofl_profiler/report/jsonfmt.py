"""The report as one JSON document: the same sections as the Markdown (tables as rows of the
same strings) and, beside them, the numbers in SI base units with unit-suffixed names."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..analysis.comparison import RunComparison
from .sections import sections, title

REPORT_SCHEMA = "zerofl-report/2"


def report_dict(comparison: RunComparison) -> dict[str, Any]:
    """The report as plain JSON-ready data."""
    runs = []
    for s in comparison.summaries:
        d = dataclasses.asdict(s)
        d["config"] = {k: v for k, v in s.config}
        d["devices"] = [c.to_json() for c in comparison.costs_of(s)]
        runs.append(d)
    return {"schema": REPORT_SCHEMA, "title": title(comparison), "target_accuracy": comparison.target_accuracy,
            "sections": [sec.to_json() for sec in sections(comparison)], "runs": runs}


def render_json(comparison: RunComparison) -> str:
    """One JSON document, strict (no NaN)."""
    from ..jsondoc import dumps_strict

    return dumps_strict(report_dict(comparison)) + "\n"
