"""Figure 4: upload bytes per round, by upload variant and mask ratio (measured encoded bytes).

Left: bytes uploaded by all clients in each round, one line per run, and what dense uploads of the
same clients would have cost (dashed). Right, when any run uploads sparsely: mean upload per
client-round against mask ratio, one series per upload variant, with the dense upload as a
reference line; with dense uploads only that panel is left out.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..analysis.comparison import as_comparison
from ..analysis.summary import RunSummary
from .common import DERIVED, colour_map, few_ticks, panels, skip, tag, untangle_ticks
from .style import Style, get_style, style_context, unit_scale


def upload_label(s: RunSummary) -> str:
    """A run as an upload configuration: name, variant and mask ratio."""
    if (s.upload or "dense") == "dense":
        return f"{s.name}: dense"
    return f"{s.name}: {s.upload}, mask {s.mask_ratio or 0:g}"


def upload_figure(runs: Any, *, style: str | Style = "paper-double", notes: list[str] | None = None) -> Any:
    """Upload bytes per round (left) and per client-round vs mask ratio (right)."""
    st = get_style(style)
    comp = as_comparison(runs)
    summaries = comp.summaries
    colours = colour_map(comp, st.colors)
    variants: dict[str, list[RunSummary]] = {}
    for s in summaries:
        if (s.upload or "dense") != "dense":
            variants.setdefault(s.upload or "?", []).append(s)
    if not variants:
        skip(notes, "mask-ratio panel left out (every run uploads dense)")
    with style_context(st):
        fig, axs = panels(st, 2 if variants else 1)
        ax_r = axs[0]
        factor, unit = unit_scale([p.bytes_up_dense for s in summaries for p in s.rounds], "B")
        markers = itertools.cycle("os^Dvx")
        for s in summaries:
            tag(ax_r.plot([p.round for p in s.rounds], [p.bytes_up / factor for p in s.rounds],
                          marker=next(markers), color=colours[s.run_id], label=upload_label(s))[0],
                f"upload-round:{s.run_id}")
        ref = max(summaries, key=lambda s: sum(p.bytes_up_dense for p in s.rounds)) if summaries else None
        if ref is not None:
            tag(ax_r.plot([p.round for p in ref.rounds], [p.bytes_up_dense / factor for p in ref.rounds],
                          color=DERIVED, linestyle="--", label="dense upload, same clients")[0],
                f"upload-round-dense:{ref.run_id}")
        ax_r.set_xlabel("Round")
        ax_r.set_ylabel(f"Upload/round, all clients ({unit})" if st.width_in >= 5.0 else f"Upload/round ({unit})")
        few_ticks(ax_r, "x", 6, integer=True)
        ax_r.set_ylim(bottom=0)
        ax_r.legend(loc="best")
        if variants:
            ax_m = axs[1]
            mfactor, munit = unit_scale([s.bytes_up_dense_mean for s in summaries], "B")
            markers = itertools.cycle("os^Dvx")
            for variant, vruns in variants.items():
                vruns = sorted(vruns, key=lambda s: (s.mask_ratio or 0.0, s.weight_sparsity or 0.0))
                tag(ax_m.plot([s.mask_ratio or 0.0 for s in vruns], [s.bytes_up_mean / mfactor for s in vruns],
                              marker=next(markers), linestyle="none", color=DERIVED, label=variant)[0],
                    f"upload-mask:{variant}")
            dense_ref = max(s.bytes_up_dense_mean for s in summaries)
            tag(ax_m.axhline(dense_ref / mfactor, color=DERIVED, linestyle="--", linewidth=0.8, label="dense upload"),
                "upload-mask-dense")
            ax_m.set_xlabel("Mask ratio")
            ax_m.set_ylabel(f"Mean upload/client-round ({munit})" if st.width_in >= 5.0 else f"Upload/client ({munit})")
            ax_m.set_ylim(bottom=0)
            ax_m.margins(x=0.15)
            few_ticks(ax_m, "x", 5)
            ax_m.legend(loc="lower right")
        untangle_ticks(fig)
    return fig
