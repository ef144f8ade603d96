"""Figure 4: upload bytes per round, by upload variant and mask ratio.

Left: bytes uploaded by all clients in each round, one line per run, and what dense uploads of the
same clients would have cost (dashed). Right: mean upload per client-round against mask ratio, one
series per upload variant, with the dense upload as a reference line.
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

from ..analysis.summary import RunSummary
from .common import few_ticks, note, panels, tag, untangle_ticks
from .style import Style, get_style, style_context, unit_scale


def upload_label(s: RunSummary) -> str:
    """A run as an upload configuration: name, variant and mask ratio."""
    if (s.upload or "dense") == "dense":
        return f"{s.name}: dense"
    return f"{s.name}: {s.upload}, mask {s.mask_ratio or 0:g}"


def upload_figure(summaries: Sequence[RunSummary], *, style: str | Style = "paper-double") -> Any:
    """Upload bytes per round (left) and per client-round vs mask ratio (right)."""
    st = get_style(style)
    with style_context(st):
        fig, (ax_r, ax_m) = panels(st, 2)
        factor, unit = unit_scale([p.bytes_up_dense for s in summaries for p in s.rounds], "B")
        markers = itertools.cycle("os^Dvx")
        for s in summaries:
            tag(ax_r.plot([p.round for p in s.rounds], [p.bytes_up / factor for p in s.rounds],
                          marker=next(markers), label=upload_label(s))[0], f"upload-round:{s.run_id}")
        ref = max(summaries, key=lambda s: sum(p.bytes_up_dense for p in s.rounds)) if summaries else None
        if ref is not None:
            tag(ax_r.plot([p.round for p in ref.rounds], [p.bytes_up_dense / factor for p in ref.rounds],
                          color="grey", linestyle="--", label="dense upload, same clients")[0],
                f"upload-round-dense:{ref.run_id}")
        ax_r.set_xlabel("Round")
        ax_r.set_ylabel(f"Upload per round, all clients ({unit})")
        few_ticks(ax_r, "x", 6, integer=True)
        ax_r.set_ylim(bottom=0)
        ax_r.legend(loc="best")

        mfactor, munit = unit_scale([s.bytes_up_dense_mean for s in summaries], "B")
        variants: dict[str, list[RunSummary]] = {}
        for s in summaries:
            if (s.upload or "dense") != "dense":
                variants.setdefault(s.upload or "?", []).append(s)
        markers = itertools.cycle("os^Dvx")
        for i, (variant, runs) in enumerate(variants.items()):
            runs = sorted(runs, key=lambda s: (s.mask_ratio or 0.0, s.weight_sparsity or 0.0))
            tag(ax_m.plot([s.mask_ratio or 0.0 for s in runs], [s.bytes_up_mean / mfactor for s in runs],
                          marker=next(markers), linestyle="none", color=st.colors[i % len(st.colors)],
                          label=variant)[0], f"upload-mask:{variant}")
        if not variants:
            note(ax_m, "All runs upload dense:\nno mask ratio to compare")
        else:
            dense_ref = max(s.bytes_up_dense_mean for s in summaries)
            tag(ax_m.axhline(dense_ref / mfactor, color="grey", linestyle="--", label="dense upload"),
                "upload-mask-dense")
            ax_m.set_xlabel("Mask ratio")
            ax_m.set_ylabel(f"Mean upload per client-round ({munit})")
            ax_m.set_ylim(bottom=0)
            ax_m.margins(x=0.15)
            few_ticks(ax_m, "x", 5)
            ax_m.legend(loc="lower right")
        untangle_ticks(fig)
    return fig
