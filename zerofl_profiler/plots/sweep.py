"""Figure 5: a sparsity sweep across runs: FLOP reduction, estimated speed-up per device, and
final accuracy, each against weight sparsity on a numeric axis (one point per run).

It needs at least two distinct sparsities; the speed-up panel is left out without a device.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..analysis.comparison import DeviceCost, as_comparison
from ..errors import BadInputError
from .common import DERIVED, colour_map, few_ticks, figure_legend, panels, skip, tag, untangle_ticks
from .style import Style, get_style, style_context


def sparsity_sweep_figure(runs: Any, costs: Mapping[str, Sequence[DeviceCost]] | None = None, *,
                          style: str | Style = "paper-double", notes: list[str] | None = None) -> Any:
    """Panels against weight sparsity (%): FLOP reduction (x), est. speed-up per device (x), accuracy (%)."""
    st = get_style(style)
    comp = as_comparison(runs, costs)
    known = sorted((s for s in comp.summaries if s.weight_sparsity is not None), key=lambda s: s.weight_sparsity or 0.0)
    if len({s.weight_sparsity for s in known}) < 2:
        raise BadInputError("the sparsity sweep needs runs at two or more weight sparsities")
    colours = colour_map(comp, st.colors)
    xs = [(s.weight_sparsity or 0.0) * 100 for s in known]
    devices = comp.devices
    if not devices:
        skip(notes, "estimated speed-up panel left out (no --device given)")
    with style_context(st):
        fig, axs = panels(st, 3 if devices else 2, sharex=st.width_in < 5.0)
        ax_f, ax_a = axs[0], axs[-1]
        red = [(x, s.flop_reduction) for x, s in zip(xs, known) if s.flop_reduction is not None]
        tag(ax_f.plot([x for x, _ in red], [r for _, r in red], marker="o", color=DERIVED)[0], "sweep-flops")
        wide = st.width_in >= 5.0
        ax_f.set_ylabel("FLOP reduction (\u00d7)" if wide else "FLOP red. (\u00d7)")
        if devices:
            ax_s = axs[1]
            for dev, marker in zip(devices, "s^Dvxo" * 4):
                pts = []
                for x, s in zip(xs, known):
                    c = comp.cost(s, dev)
                    if c is not None and c.speedup is not None:
                        pts.append((x, c.speedup))
                tag(ax_s.plot([x for x, _ in pts], [v for _, v in pts], marker=marker, color=colours[dev],
                              label=f"{dev} (estimated)")[0], f"sweep-speedup:{dev}")
            ax_s.set_ylabel("Est. speed-up (\u00d7)" if wide else "Speed-up (\u00d7)")
            figure_legend(fig, [ax_s], st.width_in)
        acc = [(x, s.final_accuracy * 100) for x, s in zip(xs, known) if s.final_accuracy is not None]
        tag(ax_a.plot([x for x, _ in acc], [a for _, a in acc], marker="o", color=DERIVED)[0], "sweep-accuracy")
        ax_a.set_ylabel("Final accuracy (%)" if wide else "Accuracy (%)")
        for ax in axs:
            ax.margins(x=0.06)
            few_ticks(ax, "x", 6)
            if st.width_in >= 5.0 or ax is axs[-1]:
                ax.set_xlabel("Weight sparsity (%)")
        untangle_ticks(fig)
    return fig
