"""Small helpers every figure shares: run labels, one colour per run and device, log axes with
enough labelled ticks, artist tags, and skipped panels reported (never drawn as text)."""

from __future__ import annotations

import math
import re
import sys
from typing import Any, Sequence

from ..analysis.comparison import RunComparison
from ..analysis.summary import RunSummary

#: Colour of derived series (FLOP reduction, final accuracy across runs) and dense references:
#: black, which :func:`colour_map` never gives to a run or a device.
DERIVED = "#000000"
#: Series keys of the host's own measurements and of the trace's host energy estimate.
MEASURED = "measured"
HOST_ESTIMATE = "host-estimate"


def run_label(s: RunSummary) -> str:
    """Legend label of a run: its name and, when known, its weight sparsity."""
    if s.weight_sparsity is None:
        return s.name
    return f"{s.name} ({s.weight_sparsity * 100:g}% sparse)"


def tag(artist: Any, gid: str) -> Any:
    """Name an artist so tests and users can find what a figure plotted (``artist.get_gid()``)."""
    artist.set_gid(gid)
    return artist


def log_axis(ax: Any, axis: str = "y", values: Sequence[float] | None = None) -> bool:
    """A log scale when the data span a decade or more, with at least three labelled ticks.

    Ticks are 1-2-5 (then every integer) multiples of the decades around the data, so a span of
    1.2 decades still reads 10, 20, 50, 100. Call after plotting; returns whether the axis became
    logarithmic.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    if values is None:
        bars = [p.get_height() if axis == "y" else p.get_width() for p in ax.patches]
        lim = ax.dataLim
        values = bars or ([lim.y0, lim.y1] if axis == "y" else [lim.x0, lim.x1])
    pos = [float(v) for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not pos or max(pos) / min(pos) < 10:
        return False
    lo, hi = min(pos), max(pos)
    getattr(ax, f"set_{axis}scale")("log")
    d0, d1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    ticks: list[float] = []
    for subs in ((1,), (1, 2, 5), tuple(range(1, 10))):
        ticks = [m * 10.0**d for d in range(d0, d1 + 1) for m in subs]
        if len([t for t in ticks if lo / 1.0001 <= t <= hi * 1.0001]) >= 3:
            break
    below = max([t for t in ticks if t <= lo] or [lo])  # the view spans the ticks that bracket the data
    above = min([t for t in ticks if t >= hi] or [hi])
    getattr(ax, f"set_{axis}lim")(below / 1.15, above * 1.15)
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(FixedLocator(ticks))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_locator(NullLocator())
    return True


def few_ticks(ax: Any, axis: str = "x", n: int = 5, integer: bool = False) -> None:
    """At most ``n`` tick labels, so narrow single-column panels never overlap them."""
    from matplotlib.ticker import MaxNLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(MaxNLocator(nbins=n, integer=integer))


def skip(notes: list[str] | None, message: str) -> None:
    """A panel or figure left out: tell the caller (``notes``) or stderr; never draw it as text."""
    if notes is None:
        print(f"figure: {message}", file=sys.stderr)
    else:
        notes.append(message)


def shows_host_estimate(comparison: RunComparison) -> bool:
    """Whether figures draw the trace's host energy estimate (some run lacks measured energy but has it)."""
    return any(s.energy.total_j is None and s.energy.estimate_total_j is not None for s in comparison.summaries)


def colour_map(comparison: RunComparison, palette: Sequence[str]) -> dict[str, str]:
    """One colour per run (by run_id), for the host's series and per device, fixed for a comparison.

    Runs first, then devices, then the host (measured; the trace's estimate where a figure shows
    it; these are only ever bars, so they take the palette's lightest colours), in order, from
    the palette without black (kept for derived lines and dense references); every figure of
    one call derives the same map. Beyond the palette's size colours repeat.
    """
    colours = [c for c in palette if c.lower() != DERIVED]
    host = [MEASURED] + ([HOST_ESTIMATE] if shows_host_estimate(comparison) else [])
    keys = [s.run_id for s in comparison.summaries] + comparison.devices + host
    return {k: colours[i % len(colours)] for i, k in enumerate(dict.fromkeys(keys))}


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


def panels(style: Any, n: int, *, sharex: bool = False) -> tuple[Any, list[Any]]:
    """``n`` panels side by side on wide styles, stacked on a single paper column (3.5 in), never
    taller than the style's ``max_height_in``."""
    from .style import new_figure

    if style.width_in < 5.0 and n > 1:
        h = min(style.max_height_in, style.height_in * (0.2 + 0.8 * n))
        fig, axes = new_figure(style, nrows=n, ncols=1, height_in=h, sharex=sharex)
        return fig, [row[0] for row in axes]
    fig, axes = new_figure(style, ncols=n)
    return fig, list(axes[0])
