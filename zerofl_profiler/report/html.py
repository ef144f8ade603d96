"""The report as one self-contained HTML file: inline CSS, figures embedded as base64 PNG, no
scripts and no external references, so it opens offline and can be mailed as one attachment."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from .model import Report
from .tables import Table, comparison_table, config_table, device_table, layers_table

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


def figure_png(fig: Any, dpi: int = 150) -> bytes:
    """A figure as PNG bytes, saved with the paper style's fonts."""
    from ..plots.style import STYLES, style_context

    buf = io.BytesIO()
    with style_context(STYLES["paper-double"]):
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def render_html(report: Report, *, with_figures: bool = True) -> str:
    """Tables first, then every figure the report's inputs allow (skipped ones say why)."""
    esc = html.escape
    names = ", ".join(s.name for s in report.summaries)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>zerofl-profiler report: {esc(names)}</title><style>{CSS}</style></head><body>",
             f"<h1>zerofl-profiler report: {esc(names)}</h1>", table_html(comparison_table(report.summaries))]
    if with_figures:
        parts.append("<h2>Figures</h2>")
        parts.extend(_figures(report))
    for s in report.summaries:
        parts.append(f"<h2>{esc(s.name)}</h2><p><code>{esc(s.path)}</code> (run id <code>{esc(s.run_id)}</code>)</p>")
        parts.append(table_html(config_table(s)))
        if s.top_layers:
            parts.append(table_html(layers_table(s)))
        costs = report.costs.get(s.run_id, ())
        if costs:
            parts.append(table_html(device_table(s, costs)))
        parts.extend(f'<p class="note">note: {esc(w)}</p>' for w in s.warnings)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _figures(report: Report) -> list[str]:
    from ..plots import FIGURES, PlotInputs, build_figures

    inp = PlotInputs(report.summaries, report.costs, report.target_accuracy)
    out = []
    for name, spec in FIGURES.items():
        figs, skipped = build_figures(inp, "paper-double", [name])
        for stem, fig in figs:
            data = base64.b64encode(figure_png(fig)).decode("ascii")
            out.append(f'<figure id="fig-{html.escape(stem)}"><img alt="{html.escape(spec.title)}" '
                       f'src="data:image/png;base64,{data}"><figcaption>{html.escape(spec.title)}'
                       f"</figcaption></figure>")
        out.extend(f'<p class="note">{html.escape(spec.title)}: not drawn ({html.escape(why)})</p>'
                   for _, why in skipped)
    return out
