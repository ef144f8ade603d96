"""Small helpers every figure shares: run labels, log axes without crowded labels, artist tags."""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from ..analysis.summary import RunSummary
from ..report.costs import DeviceCost


def run_label(s: RunSummary) -> str:
    """Legend label of a run: its name and, when known, its weight sparsity."""
    if s.weight_sparsity is None:
        return s.name
    return f"{s.name} ({s.weight_sparsity * 100:g}% sparse)"


def tag(artist: Any, gid: str) -> Any:
    """Name an artist so tests and users can find what a figure plotted (``artist.get_gid()``)."""
    artist.set_gid(gid)
    return artist


def log_axis(ax: Any, axis: str = "y") -> None:
    """A log scale with labels only on major ticks, when the data span a decade or more.

    Call after plotting: a narrower span would leave a log axis without a single labelled tick.
    """
    from matplotlib.ticker import LogLocator, NullFormatter

    bars = [p.get_height() if axis == "y" else p.get_width() for p in ax.patches]
    lim = ax.dataLim
    values = bars or ([lim.y0, lim.y1] if axis == "y" else [lim.x0, lim.x1])
    pos = [v for v in values if v > 0]
    if not pos or max(pos) / min(pos) < 10:
        return
    getattr(ax, f"set_{axis}scale")("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(base=10, numticks=6))
    target.set_minor_formatter(NullFormatter())


def few_ticks(ax: Any, axis: str = "x", n: int = 5, integer: bool = False) -> None:
    """At most ``n`` tick labels, so narrow single-column panels never overlap them."""
    from matplotlib.ticker import MaxNLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(MaxNLocator(nbins=n, integer=integer))


def note(ax: Any, text: str) -> None:
    """Replace an empty panel by a centred explanation (no axes, so no unit-less axis is left)."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)


def costs_for(costs: Mapping[str, Sequence[DeviceCost]], s: RunSummary) -> Sequence[DeviceCost]:
    """The device estimates of one run ([] when none were requested)."""
    return costs.get(s.run_id, ())


def device_names(costs: Mapping[str, Sequence[DeviceCost]]) -> list[str]:
    """Every device estimated for any run, in first-seen order."""
    seen: list[str] = []
    for cs in costs.values():
        for c in cs:
            if c.device not in seen:
                seen.append(c.device)
    return seen


def figure_legend(fig: Any, axes: Sequence[Any], width_in: float) -> None:
    """One legend for the whole figure, below the panels, never over data; deduplicated labels."""
    uniq: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            uniq.setdefault(lab, h)
    if uniq:
        longest = max(len(lab) for lab in uniq)
        ncols = max(1, min(len(uniq), int(width_in * 10 // max(longest, 8))))
        fig.legend(list(uniq.values()), list(uniq), loc="outside lower center", ncols=ncols)


def wrap_label(text: str, width: int = 12) -> str:
    """Break a long name after '-', '@' or '_' into lines of about ``width`` characters."""
    lines, cur = [], ""
    for part in re.split(r"(?<=[-@_])", text):
        if cur and len(cur) + len(part) > width:
            lines.append(cur)
            cur = ""
        cur += part
    return "\n".join(lines + [cur])


def untangle_ticks(fig: Any) -> None:
    """Where x tick labels would overlap (long device names): wrap them, and if still crowded, turn them."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()

    def crowded(ax: Any) -> list[Any]:
        lo, hi = sorted(ax.get_xlim())
        labels = [t for loc, t in zip(ax.get_xticks(), ax.get_xticklabels()) if lo <= loc <= hi and t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in labels]
        return labels if any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]) else []

    for fix in ("wrap", "rotate"):
        todo = [(ax, crowded(ax)) for ax in fig.axes if ax.axison]
        todo = [(ax, labels) for ax, labels in todo if labels]
        if not todo:
            return
        for ax, labels in todo:
            locs = [t.get_position()[0] for t in labels]
            texts = [wrap_label(t.get_text()) if fix == "wrap" else t.get_text() for t in labels]
            ax.set_xticks(locs, texts, rotation=0 if fix == "wrap" else 90, ha="center")
        fig.canvas.draw()


def panels(style: Any, n: int) -> tuple[Any, list[Any]]:
    """``n`` panels side by side on wide styles, stacked on a single paper column (3.5 in)."""
    from .style import new_figure

    if style.width_in < 5.0 and n > 1:
        fig, axes = new_figure(style, nrows=n, ncols=1, height_in=style.height_in * (0.2 + 0.8 * n))
        return fig, [row[0] for row in axes]
    fig, axes = new_figure(style, ncols=n)
    return fig, list(axes[0])
