"""Figure 5: a sparsity sweep across runs: FLOP reduction, estimated speed-up per device, and
final accuracy, each against weight sparsity (one point per run)."""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

from ..analysis.summary import RunSummary
from ..errors import BadInputError
from ..report.costs import DeviceCost
from .common import costs_for, device_names, figure_legend, note, panels, tag, untangle_ticks
from .style import Style, get_style, style_context


def sparsity_sweep_figure(summaries: Sequence[RunSummary], costs: Mapping[str, Sequence[DeviceCost]] | None = None,
                          *, style: str | Style = "paper-double") -> Any:
    """Three panels against sparsity (%): FLOP reduction (x), estimated speed-up (x), accuracy (%)."""
    st = get_style(style)
    costs = costs or {}
    runs = sorted((s for s in summaries if s.weight_sparsity is not None), key=lambda s: s.weight_sparsity or 0.0)
    if not runs:
        raise BadInputError("the sparsity sweep needs runs whose sparsity is known")
    # Ordinal x: sweeps cluster at 90-99%, where a linear axis would stack the points and labels.
    xs = list(range(len(runs)))
    ticks = [f"{(s.weight_sparsity or 0.0) * 100:g}%" for s in runs]
    with style_context(st):
        fig, (ax_f, ax_s, ax_a) = panels(st, 3)
        red = [(x, s.flop_reduction) for x, s in zip(xs, runs) if s.flop_reduction is not None]
        tag(ax_f.plot([x for x, _ in red], [r for _, r in red], marker="o", color=st.colors[0])[0], "sweep-flops")
        ax_f.set_ylabel("FLOP reduction (\u00d7)")
        devices = device_names(costs)
        if devices:
            markers = itertools.cycle("os^Dvx")
            for i, dev in enumerate(devices):
                pts = []
                for x, s in zip(xs, runs):
                    c = next((c for c in costs_for(costs, s) if c.device == dev), None)
                    if c is not None and c.speedup is not None:
                        pts.append((x, c.speedup))
                tag(ax_s.plot([x for x, _ in pts], [v for _, v in pts], marker=next(markers),
                              color=st.colors[i % len(st.colors)], label=dev)[0], f"sweep-speedup:{dev}")
            ax_s.set_ylabel("Est. speed-up (\u00d7)")
            figure_legend(fig, [ax_s], st.width_in)
        else:
            note(ax_s, "Speed-up per device:\npass --device NAME")
        acc = [(x, s.final_accuracy * 100) for x, s in zip(xs, runs) if s.final_accuracy is not None]
        tag(ax_a.plot([x for x, _ in acc], [a for _, a in acc], marker="o", color=st.colors[2])[0], "sweep-accuracy")
        ax_a.set_ylabel("Final accuracy (%)")
        for ax in (ax_f, ax_s, ax_a):
            if ax.axison:
                ax.set_xticks(xs, ticks)
                ax.set_xlabel("Weight sparsity (%)")
        untangle_ticks(fig)
    return fig
