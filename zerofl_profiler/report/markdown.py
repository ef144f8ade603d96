"""The report as GitHub-flavoured Markdown (the default: readable in a terminal and in a README).

Every cell, heading and note is escaped, so names and config values (``a|b``, ``*x*``, ``<b>``)
show as typed and cannot break a table or inject markup.
"""

from __future__ import annotations

import re

from ..analysis.comparison import RunComparison
from .sections import Section, sections
from .tables import Table

#: Characters with a Markdown meaning anywhere; ``_`` only where it could open or close emphasis.
_SPECIAL = re.compile(r"([\\`*\[\]<|]|(?<!\w)_|_(?!\w))")


def md_escape(text: str) -> str:
    """Plain text as Markdown that renders as the same text (one line)."""
    return _SPECIAL.sub(r"\\\1", str(text)).replace("\r", " ").replace("\n", " ")


def table_md(t: Table) -> str:
    """One table as a Markdown pipe table under a level-3 heading."""
    lines = [f"### {md_escape(t.title)}", "", "| " + " | ".join(md_escape(h) for h in t.header) + " |",
             "|" + "|".join("---" for _ in t.header) + "|"]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines) + "\n"


def section_md(sec: Section) -> str:
    """A section: heading, paragraphs, tables, notes as quoted lines."""
    parts = [f"{'#' * sec.level} {md_escape(sec.title)}\n"]
    parts += [md_escape(p) + "\n" for p in sec.paragraphs]
    parts += [table_md(t) for t in sec.tables]
    parts += [f"> note: {md_escape(n)}\n" for n in sec.notes]
    return "\n".join(parts)


def render_markdown(comparison: RunComparison) -> str:
    """Every section in order."""
    return "\n".join(section_md(sec) for sec in sections(comparison))
