"""The report as GitHub-flavoured Markdown (the default: readable in a terminal and in a README).

Every cell, heading and note is escaped, so names and config values (``a|b``, ``*x*``, ``<b>``)
show as typed and cannot break a table or inject markup.
"""

from __future__ import annotations

import re

from ..analysis.comparison import RunComparison
from .sections import Section, sections
from .tables import Table

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
