"""The report as one self-contained HTML file: inline CSS, figures embedded as base64 PNG, no
scripts and no external references, so it opens offline and can be mailed as one attachment.
The sections are the Markdown's (``sections``); the figures follow the overview."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from ..analysis.comparison import RunComparison
from .sections import Section, sections, title
from .tables import Table

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.4;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2} td:first-child{font-weight:600}
figure{margin:1em 0 2em} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555} .note{color:#8a5300}
"""


def table_html(t: Table) -> str:
    """One table with a caption heading."""
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in t.rows)
    return f"<h3>{esc(t.title)}</h3>\n<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"


def section_html(sec: Section) -> str:
    """A section: heading, paragraphs, tables, notes."""
    esc = html.escape
    parts = [f"<h{sec.level}>{esc(sec.title)}</h{sec.level}>"]
    parts += [f"<p>{esc(p)}</p>" for p in sec.paragraphs]
    parts += [table_html(t) for t in sec.tables]
    parts += [f'<p class="note">note: {esc(n)}</p>' for n in sec.notes]
    return "\n".join(parts)


def figure_png(fig: Any, dpi: int = 150) -> bytes:
    """A figure as PNG bytes, saved with the paper style's fonts."""
    from ..plots.style import STYLES, style_context

    buf = io.BytesIO()
    with style_context(STYLES["paper-double"]):
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def render_html(comparison: RunComparison, *, with_figures: bool = True) -> str:
    """The sections in order, with every figure the comparison allows after the overview."""
    esc = html.escape
    secs = sections(comparison)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{esc(title(comparison))}</title><style>{CSS}</style></head><body>", section_html(secs[0])]
    if with_figures:
        parts.append("<h2>Figures</h2>")
        parts.extend(_figures(comparison))
    parts.extend(section_html(sec) for sec in secs[1:])
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _figures(comparison: RunComparison) -> list[str]:
    from ..plots import FIGURES, build_figures

    out = []
    for name, spec in FIGURES.items():
        drawn = build_figures(comparison, "paper-double", [name])
        for stem, fig in drawn.figures:
            data = base64.b64encode(figure_png(fig)).decode("ascii")
            out.append(f'<figure id="fig-{html.escape(stem)}"><img alt="{html.escape(spec.title)}" '
                       f'src="data:image/png;base64,{data}"><figcaption>{html.escape(spec.title)}'
                       f"</figcaption></figure>")
        out.extend(f'<p class="note">{html.escape(spec.title)}: {html.escape(why)}</p>'
                   for _, why in drawn.skipped + drawn.notes)
    return out
