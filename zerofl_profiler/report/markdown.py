"""The report as GitHub-flavoured Markdown (the default: readable in a terminal and in a README)."""

from __future__ import annotations

import re

from .model import Report
from .tables import Table, comparison_table, config_table, device_table, layers_table


#: Characters that start Markdown or HTML markup inside a line (``_`` only at a word edge; ``>`` only
#: starts a quote at the beginning of a line, which a cell or a heading never is).
_MD_ALWAYS = re.compile(r"([\\`*\[\]<|~&])")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_escape(text: object) -> str:
    """Render a string from a config, a model name or a path literally, as html.escape does for HTML."""
    t = " ".join(str(text).splitlines())
    return _MD_UNDERSCORE.sub(r"\\_", _MD_ALWAYS.sub(r"\\\1", t))


def md_code(text: object) -> str:
    """A code span that holds any text: the fence is longer than any run of backticks inside it."""
    t = " ".join(str(text).splitlines())
    fence = "`" * (max((len(m) for m in re.findall(r"`+", t)), default=0) + 1)
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def _md_cell(text: str) -> str:
    return md_escape(text)


def table_md(t: Table) -> str:
    """One table as a Markdown pipe table under a level-3 heading."""
    lines = [f"### {md_escape(t.title)}", "", "| " + " | ".join(_md_cell(h) for h in t.header) + " |",
             "|" + "|".join("---" for _ in t.header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines) + "\n"


def render_markdown(report: Report) -> str:
    """Side-by-side comparison first, then per run: configuration, costliest layers, device estimates."""
    parts = [f"# zerofl-profiler report: {', '.join(md_escape(s.name) for s in report.summaries)}", "",
             table_md(comparison_table(report.summaries))]
    for s in report.summaries:
        parts.append(f"## {md_escape(s.name)}\n\n{md_code(s.path)} (run id {md_code(s.run_id)})\n")
        parts.append(table_md(config_table(s)))
        if s.top_layers:
            parts.append(table_md(layers_table(s)))
        costs = report.costs.get(s.run_id, ())
        if costs:
            parts.append(table_md(device_table(s, costs)))
        for w in s.warnings:
            parts.append(f"> note: {md_escape(w)}\n")
    if not report.costs:
        parts.append("> Estimated time and energy per device: pass `--device NAME` (see `zerofl-profile devices`).\n")
    return "\n".join(parts)
