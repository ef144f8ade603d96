"""Figure 3: what-if device comparison: estimated time and energy per round on each device,
sparse (filled bars, one colour per run) beside the dense counterpart of the same rounds (an
unfilled black outline of the same width, so it shows above or around the sparse bar)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..analysis.comparison import DeviceCost, as_comparison
from ..errors import BadInputError
from .common import DERIVED, colour_map, figure_legend, log_axis, panels, run_label, tag, untangle_ticks
from .style import Style, get_style, style_context, unit_scale


def device_comparison_figure(runs: Any, costs: Mapping[str, Sequence[DeviceCost]] | None = None, *,
                             style: str | Style = "paper-double", notes: list[str] | None = None) -> Any:
    """Grouped bars per device: mean round time (left) and energy (right), log scale over a decade."""
    st = get_style(style)
    comp = as_comparison(runs, costs)
    devices = comp.devices
    if not devices:
        raise BadInputError("the device comparison needs at least one --device (or --device-file / --device-mix)")
    colours = colour_map(comp, st.colors)
    n = len(comp.summaries)
    width = 0.8 / max(n, 1)
    with style_context(st):
        fig, axs = panels(st, 2)
        specs = (("time", "mean_time_s", "mean_time_s_dense", "s", "Est. time/round"),
                 ("energy", "mean_energy_j", "mean_energy_j_dense", "J", "Est. energy/round"))
        for ax, (key, sparse_attr, dense_attr, base, title) in zip(axs, specs):
            vals = [getattr(c, a) for cs in comp.costs.values() for c in cs for a in (sparse_attr, dense_attr)]
            factor, unit = unit_scale(vals, base)
            for i, s in enumerate(comp.summaries):
                labelled = False
                for d, dev in enumerate(devices):
                    c = comp.cost(s, dev)
                    if c is None:
                        continue
                    x = d - 0.4 + width * (i + 0.5)
                    bar = ax.bar([x], [getattr(c, sparse_attr) / factor], width=width * 0.9,
                                 color=colours[s.run_id], label=None if labelled else run_label(s))
                    labelled = True
                    tag(bar[0], f"device-{key}:sparse:{s.run_id}:{dev}")
                    dense = ax.bar([x], [getattr(c, dense_attr) / factor], width=width * 0.9, fill=False,
                                   edgecolor=DERIVED, linewidth=1.0, linestyle="--", label="dense counterpart")
                    tag(dense[0], f"device-{key}:dense:{s.run_id}:{dev}")
            log_axis(ax, "y", [v / factor for v in vals])
            ax.set_xticks(range(len(devices)), devices)
            ax.set_xlabel("Device (estimated)")
            ax.set_ylabel(f"{title} ({unit})")
            ax.grid(axis="x", visible=False)
        figure_legend(fig, axs, st.width_in)
        untangle_ticks(fig)
    return fig
