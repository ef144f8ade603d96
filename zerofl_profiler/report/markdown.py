"""The report as GitHub-flavoured Markdown (the default: readable in a terminal and in a README)."""

from __future__ import annotations

from .model import Report
from .tables import Table, comparison_table, config_table, device_table, layers_table


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_md(t: Table) -> str:
    """One table as a Markdown pipe table under a level-3 heading."""
    lines = [f"### {t.title}", "", "| " + " | ".join(_md_cell(h) for h in t.header) + " |",
             "|" + "|".join("---" for _ in t.header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines) + "\n"


def render_markdown(report: Report) -> str:
    """Side-by-side comparison first, then per run: configuration, costliest layers, device estimates."""
    parts = [f"# zerofl-profiler report: {', '.join(s.name for s in report.summaries)}", "",
             table_md(comparison_table(report.summaries))]
    for s in report.summaries:
        parts.append(f"## {s.name}\n\n`{s.path}` (run id `{s.run_id}`)\n")
        parts.append(table_md(config_table(s)))
        if s.top_layers:
            parts.append(table_md(layers_table(s)))
        costs = report.costs.get(s.run_id, ())
        if costs:
            parts.append(table_md(device_table(s, costs)))
        for w in s.warnings:
            parts.append(f"> note: {w}\n")
    if not report.costs:
        parts.append("> Estimated time and energy per device: pass `--device NAME` (see `zerofl-profile devices`).\n")
    return "\n".join(parts)
