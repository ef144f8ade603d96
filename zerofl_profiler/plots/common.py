"""Small helpers every figure shares: run labels, log axes without crowded labels, artist tags."""

from __future__ import annotations

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
    """A log scale with labels only on major ticks (minor labels collide on short ranges)."""
    from matplotlib.ticker import LogLocator, NullFormatter

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


def untangle_ticks(fig: Any) -> None:
    """Turn x tick labels upright-vertical on any panel where they would overlap (long device names)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    changed = False
    for ax in fig.axes:
        if not ax.axison:
            continue
        lo, hi = sorted(ax.get_xlim())
        labels = [t for loc, t in zip(ax.get_xticks(), ax.get_xticklabels()) if lo <= loc <= hi and t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in labels]
        if any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]):
            for t in labels:
                t.set_rotation(90)
                t.set_horizontalalignment("center")
            changed = True
    if changed:
        fig.canvas.draw()


def panels(style: Any, n: int) -> tuple[Any, list[Any]]:
    """``n`` panels side by side on wide styles, stacked on a single paper column (3.5 in)."""
    from .style import new_figure

    if style.width_in < 5.0 and n > 1:
        fig, axes = new_figure(style, nrows=n, ncols=1, height_in=style.height_in * (0.2 + 0.8 * n))
        return fig, [row[0] for row in axes]
    fig, axes = new_figure(style, ncols=n)
    return fig, list(axes[0])
