"""Figure 1: test accuracy against round and against cumulative client energy, one line per run.

The energy axis names its source. It uses measured energy when every run measured every
client-round; otherwise the estimate on ``energy_device`` (or the first device estimated); otherwise
the trace's own host estimate (``energy_estimate``); the label always says which. With no energy
at all the energy panel is left out (and the caller told why).
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

from ..analysis.comparison import DeviceCost, RunComparison, as_comparison
from .common import colour_map, few_ticks, figure_legend, panels, run_label, skip, tag, untangle_ticks
from .style import Style, get_style, style_context, unit_scale


def energy_series(comp: RunComparison, energy_device: str | None = None) -> tuple[str, dict[str, list[float]]] | None:
    """(axis description, run_id -> per-round client energy in J), one source for all runs."""
    summaries = comp.summaries
    if summaries and all(s.energy.total_j is not None for s in summaries):
        src = "+".join(sorted({s.energy.source for s in summaries}))
        return f"measured ({src})", {s.run_id: [p.energy_j for p in s.rounds] for s in summaries}  # type: ignore
    for dev in ([energy_device] if energy_device else comp.devices):
        per: dict[str, list[float]] = {}
        for s in summaries:
            c = comp.cost(s, dev)
            if c is None:
                break
            by_round = c.energy_by_round()
            per[s.run_id] = [by_round.get(p.round, 0.0) for p in s.rounds]
        else:
            return f"estimated on {dev}", per
    if summaries and all(s.energy.estimate_total_j is not None for s in summaries):
        methods = "+".join(sorted({s.energy.estimate_method or "estimate" for s in summaries}))
        return (f"estimated on host ({methods})",
                {s.run_id: [p.energy_estimate_j for p in s.rounds] for s in summaries})  # type: ignore
    return None


def accuracy_figure(runs: Any, costs: Mapping[str, Sequence[DeviceCost]] | None = None, *,
                    energy_device: str | None = None, style: str | Style = "paper-double",
                    notes: list[str] | None = None) -> Any:
    """Accuracy vs round, and vs cumulative client energy when any energy is known."""
    st = get_style(style)
    comp = as_comparison(runs, costs)
    colours = colour_map(comp, st.colors)
    series = energy_series(comp, energy_device)
    if series is None:
        skip(notes, "energy panel left out: no counter measured every client-round and no --device "
                    "was given to estimate it")
    with style_context(st):
        fig, axs = panels(st, 1 if series is None else 2)
        ax_r = axs[0]
        markers = itertools.cycle("os^Dvx")
        for s in comp.summaries:
            pts = [p for p in s.rounds if p.test_accuracy is not None]
            tag(ax_r.plot([p.round for p in pts], [p.test_accuracy * 100 for p in pts],  # type: ignore[operator]
                          marker=next(markers), color=colours[s.run_id], label=run_label(s))[0],
                f"accuracy-round:{s.run_id}")
        ax_r.set_xlabel("Round")
        ax_r.set_ylabel("Test accuracy (%)")
        few_ticks(ax_r, "x", 6, integer=True)
        if series is not None:
            ax_e = axs[1]
            desc, per = series
            cums = {}
            for s in comp.summaries:
                acc, tot = [], 0.0
                for p, e in zip(s.rounds, per[s.run_id]):
                    tot += e
                    if p.test_accuracy is not None:
                        acc.append((tot, p.test_accuracy * 100))
                cums[s.run_id] = acc
            factor, unit = unit_scale([x for acc in cums.values() for x, _ in acc], "J")
            markers = itertools.cycle("os^Dvx")
            for s in comp.summaries:
                acc = cums[s.run_id]
                tag(ax_e.plot([x / factor for x, _ in acc], [y for _, y in acc], marker=next(markers),
                              color=colours[s.run_id], label=run_label(s))[0], f"accuracy-energy:{s.run_id}")
            ax_e.set_xlabel(f"Cumulative client energy ({unit}),\n{desc}")
            ax_e.set_ylabel("Test accuracy (%)")
            few_ticks(ax_e, "x", 5)
        figure_legend(fig, [ax_r], st.width_in)
        untangle_ticks(fig)
    return fig
