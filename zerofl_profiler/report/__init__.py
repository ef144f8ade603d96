"""Reports from recorded runs: Markdown (default), self-contained HTML, JSON.

``build_report`` loads run directories (through ``traces.load_run`` only), summarises them and asks
the cost model for estimates on the requested devices; ``FORMATS`` maps a format name to its renderer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from ..analysis.summary import summarize_run
from ..errors import BadInputError, unknown_name
from ..traces.run import load_run
from .costs import DeviceCost, estimate_costs
from .html import render_html
from .jsonfmt import render_json
from .markdown import render_markdown
from .model import Report

FORMATS: dict[str, Callable[[Report], str]] = {"md": render_markdown, "html": render_html, "json": render_json}


def build_report(run_dirs: Sequence[str | Path], costing: Any = None, *, target_accuracy: float | None = None,
                 estimator: Callable[[Any, Any], tuple[DeviceCost, ...]] = estimate_costs) -> Report:
    """Load, summarise and (when devices are requested) re-cost each run."""
    if not run_dirs:
        raise BadInputError("give at least one run directory")
    runs = [load_run(p) for p in run_dirs]
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise BadInputError(f"the same run was given twice: {', '.join(sorted({i for i in ids if ids.count(i) > 1}))}")
    summaries = tuple(summarize_run(r, target_accuracy=target_accuracy) for r in runs)
    costs = {}
    if costing is not None:
        for r in runs:
            c = tuple(estimator(r, costing))
            if c:
                costs[r.run_id] = c
    return Report(summaries, costs, target_accuracy)


def render(report: Report, fmt: str) -> str:
    """Render in a named format; unknown names list the known ones."""
    try:
        return FORMATS[fmt](report)
    except KeyError:
        raise BadInputError(unknown_name("report format", fmt, FORMATS)) from None


__all__ = ["FORMATS", "DeviceCost", "Report", "build_report", "render", "render_html", "render_json",
           "render_markdown"]
