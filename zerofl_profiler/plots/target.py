"""Figure 6: time and energy to reach a target accuracy, per run: measured on the host, the
trace's host estimate, and estimated on each requested device (cumulative over the rounds up to
the first that reaches it). A run that never reaches the target says so in its tick label."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from ..analysis.comparison import DeviceCost, RunComparison, as_comparison
from ..analysis.summary import RunSummary, TargetReach, time_to_target
from .common import HOST_ESTIMATE, MEASURED, colour_map, shows_host_estimate, figure_legend, log_axis, panels, tag, untangle_ticks
from .style import Style, get_style, style_context, unit_scale

Getter = Callable[[RunSummary, TargetReach], "tuple[float | None, float | None]"]


def target_series(comp: RunComparison) -> list[tuple[str, str, Getter]]:
    """(colour key, label, run -> (time_s, energy_j) to target) for measured, host estimate, devices."""
    summaries = comp.summaries
    series: list[tuple[str, str, Getter]] = []
    src = "+".join(sorted({s.energy.source for s in summaries if s.energy.source != "none"}))
    series.append((MEASURED, f"measured ({src})" if src else "measured (time only: no energy counter)",
                   lambda s, t: (t.time_s, t.energy_j)))
    if shows_host_estimate(comp):
        series.append((HOST_ESTIMATE, "host (estimated)", lambda s, t: (None, t.energy_estimate_j)))
    for dev in comp.devices:
        def get(s: RunSummary, t: TargetReach, dev: str = dev) -> tuple[float | None, float | None]:
            c = comp.cost(s, dev)
            return c.upto(t.round) if (c is not None and t.round is not None) else (None, None)
        series.append((dev, f"{dev} (estimated)", get))
    return series


def target_figure(runs: Any, target: float, costs: Mapping[str, Sequence[DeviceCost]] | None = None, *,
                  style: str | Style = "paper-double", notes: list[str] | None = None) -> Any:
    """Grouped bars per run: time (left) and energy (right) to reach ``target`` accuracy."""
    st = get_style(style)
    comp = as_comparison(runs, costs)
    colours = colour_map(comp, st.colors)
    summaries = comp.summaries
    reach = {s.run_id: (s.target if s.target and s.target.target == target else time_to_target(s, target))
             for s in summaries}
    series = target_series(comp)
    values = {(lab, s.run_id): (get(s, reach[s.run_id]) if reach[s.run_id].reached else (None, None))
              for _, lab, get in series for s in summaries}
    width = 0.8 / len(series)
    with style_context(st):
        fig, axs = panels(st, 2)
        for k, (ax, base, name) in enumerate(zip(axs, ("s", "J"), ("Time", "Energy"))):
            vals = [v[k] for v in values.values() if v[k] is not None]
            factor, unit = unit_scale(vals, base)
            for i, (key, lab, _) in enumerate(series):
                for r, s in enumerate(summaries):
                    v = values[(lab, s.run_id)][k]
                    if v is None:
                        continue
                    bar = ax.bar([r - 0.4 + width * (i + 0.5)], [v / factor], width=width * 0.9,
                                 color=colours[key], label=lab)
                    tag(bar[0], f"target-{name.lower()}:{lab}:{s.run_id}")
            log_axis(ax, "y", [v / factor for v in vals])
            ax.set_xticks(range(len(summaries)),
                          [s.name if reach[s.run_id].reached else f"{s.name}\n(not reached)" for s in summaries])
            ax.set_xlabel("Run")
            ax.set_ylabel(f"{name} to {target * 100:g}% acc. ({unit})")
            ax.grid(axis="x", visible=False)
        figure_legend(fig, axs, st.width_in)
        untangle_ticks(fig)
    return fig
