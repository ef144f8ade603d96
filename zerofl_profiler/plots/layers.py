"""Figure 2: per-layer FLOPs of one training step, forward / backward-input / backward-weight,
dense beside sparse, as stacked horizontal bars (layer names stay readable at any count)."""

from __future__ import annotations

from typing import Any

from ..analysis.summary import RunSummary
from ..errors import BadInputError
from ..vocab import GEMM_PHASES
from .common import tag, untangle_ticks
from .style import Style, get_style, new_figure, style_context, unit_scale

PHASE_LABELS = {"forward": "forward", "backward_input": "backward (input)", "backward_weight": "backward (weight)"}


def layer_breakdown_figure(summary: RunSummary, *, max_layers: int = 24, style: str | Style = "paper-single") -> Any:
    """Stacked bars per layer (dense hatched, sparse solid) from the run's layers.json."""
    st = get_style(style)
    layers = [lc for lc in summary.layers if lc.dense_total > 0]
    if not layers:
        raise BadInputError(f"run {summary.name!r} has no per-layer counts (layers.json missing or empty)")
    if len(layers) > max_layers:  # keep the costliest, in model order
        keep = {lc.label for lc in sorted(layers, key=lambda lc: -lc.dense_total)[:max_layers]}
        layers = [lc for lc in layers if lc.label in keep]
    factor, unit = unit_scale([lc.dense_total for lc in layers], "FLOP")
    row_in = 0.16 if st.name != "slides" else 0.3
    with style_context(st):
        fig, axes = new_figure(st, height_in=max(st.height_in, 0.9 + row_in * len(layers)))
        ax = axes[0][0]
        n = len(layers)
        h = 0.38
        for kind, offset, hatch, alpha in (("dense", h / 2, "////", 0.45), ("sparse", -h / 2, None, 1.0)):
            left = [0.0] * n
            for i, phase in enumerate(GEMM_PHASES):
                vals = [getattr(lc, kind)[i] / factor for lc in layers]
                bars = ax.barh([n - 1 - j + offset for j in range(n)], vals, height=h, left=left,
                               color=st.colors[i], alpha=alpha, hatch=hatch, edgecolor="white", linewidth=0.3,
                               label=f"{PHASE_LABELS[phase]}" if kind == "sparse" else None)
                for j, b in enumerate(bars):
                    tag(b, f"layer:{kind}:{phase}:{layers[j].label}")
                left = [a + b for a, b in zip(left, vals)]
        ax.set_yticks(range(n), [lc.label for lc in reversed(layers)])
        ax.set_xlabel(f"FLOPs per training step ({unit})")
        ax.set_ylabel("Layer")
        ax.grid(axis="y", visible=False)
        from matplotlib.patches import Patch

        handles, labels = ax.get_legend_handles_labels()
        handles.append(Patch(facecolor="grey", alpha=0.45, hatch="////", edgecolor="white"))
        labels.append("dense (hatched)")
        ax.legend(handles, labels, loc="lower right")
        ax.set_title(f"{summary.name}: sparse (solid) vs dense (hatched)")
        untangle_ticks(fig)
    return fig
