"""Figure 6: time and energy to reach a target accuracy, per run: measured on the host and
estimated on each requested device (cumulative over the rounds up to the first that reaches it)."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from ..analysis.summary import RunSummary, TargetReach, time_to_target
from ..report.costs import DeviceCost
from .common import costs_for, device_names, figure_legend, log_axis, panels, tag, untangle_ticks
from .style import Style, get_style, style_context, unit_scale

Getter = Callable[[RunSummary, TargetReach], "tuple[float | None, float | None]"]


def target_series(summaries: Sequence[RunSummary], costs: Mapping[str, Sequence[DeviceCost]]) -> list[tuple[str, Getter]]:
    """(label, run -> (time_s, energy_j) to target) for measured, host-estimated and each device."""
    series: list[tuple[str, Getter]] = []
    src = "+".join(sorted({s.energy.source for s in summaries if s.energy.source != "none"}))
    series.append((f"measured ({src})" if src else "measured (time only: no energy counter)",
                   lambda s, t: (t.time_s, t.energy_j)))
    if any(s.energy.total_j is None and s.energy.estimate_total_j is not None for s in summaries):
        series.append(("host (estimated)", lambda s, t: (None, t.energy_estimate_j)))
    for dev in device_names(costs):
        def get(s: RunSummary, t: TargetReach, dev: str = dev) -> tuple[float | None, float | None]:
            c = next((c for c in costs_for(costs, s) if c.device == dev), None)
            return c.upto(t.round) if (c is not None and t.round is not None) else (None, None)
        series.append((f"{dev} (estimated)", get))
    return series


def target_figure(summaries: Sequence[RunSummary], target: float,
                  costs: Mapping[str, Sequence[DeviceCost]] | None = None, *,
                  style: str | Style = "paper-double") -> Any:
    """Grouped bars per run: time (left) and energy (right) to reach ``target`` accuracy, log scale."""
    st = get_style(style)
    costs = costs or {}
    reach = {s.run_id: (s.target if s.target and s.target.target == target else time_to_target(s, target))
             for s in summaries}
    series = target_series(summaries, costs)
    values = {(lab, s.run_id): (get(s, reach[s.run_id]) if reach[s.run_id].reached else (None, None))
              for lab, get in series for s in summaries}
    width = 0.8 / len(series)
    with style_context(st):
        fig, axs = panels(st, 2)
        for k, (ax, base, name) in enumerate(zip(axs, ("s", "J"), ("Time", "Energy"))):
            factor, unit = unit_scale([v[k] for v in values.values() if v[k] is not None], base)
            for i, (lab, _) in enumerate(series):
                for r, s in enumerate(summaries):
                    v = values[(lab, s.run_id)][k]
                    if v is None:
                        continue
                    bar = ax.bar([r - 0.4 + width * (i + 0.5)], [v / factor], width=width * 0.9,
                                 color=st.colors[i % len(st.colors)], label=lab)
                    tag(bar[0], f"target-{name.lower()}:{lab}:{s.run_id}")
            for r, s in enumerate(summaries):
                if not reach[s.run_id].reached:
                    ax.text(r, 0.02, "not\nreached", ha="center", va="bottom",
                            transform=ax.get_xaxis_transform(), fontsize=st.font_pt * 0.8)
            if any(v[k] for v in values.values()):
                log_axis(ax, "y")
            ax.set_xticks(range(len(summaries)), [s.name for s in summaries])
            ax.set_xlabel("Run")
            ax.set_ylabel(f"{name} to {target * 100:g}% accuracy ({unit})")
            ax.grid(axis="x", visible=False)
        figure_legend(fig, axs, st.width_in)
        untangle_ticks(fig)
    return fig
