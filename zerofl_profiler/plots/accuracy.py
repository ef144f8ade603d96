"""Figure 1: test accuracy against round and against cumulative client energy, one line per run.

The energy axis names its source. It uses measured energy when every run measured every
client-round; otherwise the estimate on ``energy_device`` (or the first device estimated); otherwise
the trace's own host estimate (``energy_estimate``); the label always says which.
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

from ..analysis.summary import RunSummary
from ..report.costs import DeviceCost
from .common import costs_for, device_names, few_ticks, figure_legend, note, panels, run_label, tag, untangle_ticks
from .style import Style, get_style, style_context, unit_scale


def energy_series(summaries: Sequence[RunSummary], costs: Mapping[str, Sequence[DeviceCost]],
                  energy_device: str | None = None) -> tuple[str, dict[str, list[float]]] | None:
    """(axis description, run_id -> per-round client energy in J), one source for all runs."""
    if summaries and all(s.energy.total_j is not None for s in summaries):
        src = "+".join(sorted({s.energy.source for s in summaries}))
        return f"measured ({src})", {s.run_id: [p.energy_j for p in s.rounds] for s in summaries}  # type: ignore
    names = [energy_device] if energy_device else device_names(costs)
    for dev in names:
        per: dict[str, list[float]] = {}
        for s in summaries:
            c = next((c for c in costs_for(costs, s) if c.device == dev), None)
            if c is None:
                break
            by_round = dict(zip(c.rounds, c.energy_j))
            per[s.run_id] = [by_round.get(p.round, 0.0) for p in s.rounds]
        else:
            return f"estimated on {dev}", per
    if summaries and all(s.energy.estimate_total_j is not None for s in summaries):
        methods = "+".join(sorted({s.energy.estimate_method or "estimate" for s in summaries}))
        return (f"estimated on host ({methods})",
                {s.run_id: [p.energy_estimate_j for p in s.rounds] for s in summaries})  # type: ignore
    return None


def accuracy_figure(summaries: Sequence[RunSummary], costs: Mapping[str, Sequence[DeviceCost]] | None = None, *,
                    energy_device: str | None = None, style: str | Style = "paper-double") -> Any:
    """Accuracy vs round (left) and vs cumulative client energy (right)."""
    st = get_style(style)
    costs = costs or {}
    with style_context(st):
        fig, (ax_r, ax_e) = panels(st, 2)
        markers = itertools.cycle("os^Dvx")
        for s in summaries:
            pts = [p for p in s.rounds if p.test_accuracy is not None]
            tag(ax_r.plot([p.round for p in pts], [p.test_accuracy * 100 for p in pts],  # type: ignore[operator]
                          marker=next(markers), label=run_label(s))[0], f"accuracy-round:{s.run_id}")
        ax_r.set_xlabel("Round")
        ax_r.set_ylabel("Test accuracy (%)")
        few_ticks(ax_r, "x", 6, integer=True)
        series = energy_series(summaries, costs, energy_device)
        if series is None:
            note(ax_e, "No energy for every run:\nno counter measured it and\nno --device was given to estimate it")
        else:
            desc, per = series
            cums = {}
            for s in summaries:
                acc, tot = [], 0.0
                for p, e in zip(s.rounds, per[s.run_id]):
                    tot += e
                    if p.test_accuracy is not None:
                        acc.append((tot, p.test_accuracy * 100))
                cums[s.run_id] = acc
            factor, unit = unit_scale([x for acc in cums.values() for x, _ in acc], "J")
            markers = itertools.cycle("os^Dvx")
            for s in summaries:
                acc = cums[s.run_id]
                tag(ax_e.plot([x / factor for x, _ in acc], [y for _, y in acc], marker=next(markers),
                              label=run_label(s))[0], f"accuracy-energy:{s.run_id}")
            ax_e.set_xlabel(f"Cumulative client energy ({unit}),\n{desc}")
            ax_e.set_ylabel("Test accuracy (%)")
            few_ticks(ax_e, "x", 5)
        figure_legend(fig, [ax_r], st.width_in)
        untangle_ticks(fig)
    return fig
