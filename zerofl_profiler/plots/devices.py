"""Figure 3: what-if device comparison: estimated time and energy per round on each device,
sparse (bars, one per run) with the dense counterpart of the same rounds (black tick)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..analysis.summary import RunSummary
from ..errors import BadInputError
from ..report.costs import DeviceCost
from .common import costs_for, device_names, figure_legend, log_axis, panels, run_label, tag, untangle_ticks
from .style import Style, get_style, style_context, unit_scale


def device_comparison_figure(summaries: Sequence[RunSummary], costs: Mapping[str, Sequence[DeviceCost]], *,
                             style: str | Style = "paper-double") -> Any:
    """Grouped bars per device: mean round time (left) and energy (right), log scale."""
    st = get_style(style)
    devices = device_names(costs)
    if not devices:
        raise BadInputError("the device comparison needs at least one --device (or --device-file / --device-mix)")
    n = len(summaries)
    width = 0.8 / max(n, 1)
    with style_context(st):
        fig, axs = panels(st, 2)
        specs = (("time", "mean_time_s", "mean_time_s_dense", "s", "Time per round"),
                  ("energy", "mean_energy_j", "mean_energy_j_dense", "J", "Energy per round"))
        for ax, (key, sparse_attr, dense_attr, base, title) in zip(axs, specs):
            vals = [getattr(c, a) for cs in costs.values() for c in cs for a in (sparse_attr, dense_attr)]
            factor, unit = unit_scale(vals, base)
            for i, s in enumerate(summaries):
                by_dev = {c.device: c for c in costs_for(costs, s)}
                labelled = False
                for d, dev in enumerate(devices):
                    c = by_dev.get(dev)
                    if c is None:
                        continue
                    x = d - 0.4 + width * (i + 0.5)
                    bar = ax.bar([x], [getattr(c, sparse_attr) / factor], width=width * 0.9, color=st.colors[i],
                                 label=None if labelled else run_label(s))
                    labelled = True
                    tag(bar[0], f"device-{key}:sparse:{s.run_id}:{dev}")
                    tag(ax.plot([x], [getattr(c, dense_attr) / factor], marker="_", color="black",
                                markersize=10 if st.name != "slides" else 18, linestyle="none",
                                label="dense counterpart")[0],
                        f"device-{key}:dense:{s.run_id}:{dev}")
            log_axis(ax, "y")
            ax.set_xticks(range(len(devices)), devices)
            ax.set_xlabel("Device (estimated)")
            ax.set_ylabel(f"{title} ({unit})")
            ax.grid(axis="x", visible=False)
        figure_legend(fig, axs, st.width_in)
        untangle_ticks(fig)
    return fig
