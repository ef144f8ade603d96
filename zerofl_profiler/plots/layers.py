"""Figure 2: per-layer FLOPs of one training step, forward / backward-input / backward-weight,
dense beside sparse, as stacked horizontal bars, one row per module path (``layer1.0.conv1``).

Phases are drawn in greys, so no phase shares a colour with a run or a device of the other
figures; modules with no FLOPs (top-k rows), and activations, pooling and the loss under 1 % of
the costliest module (bars too thin to see), are not drawn, and the caller is told. Convolutions
and linear layers are always drawn.
"""

from __future__ import annotations

from typing import Any

from ..analysis.comparison import as_comparison
from ..errors import BadInputError
from ..vocab import GEMM_PHASES
from .common import skip, tag, untangle_ticks
from .style import Style, get_style, new_figure, style_context, unit_scale

PHASE_LABELS = {"forward": "forward", "backward_input": "backward (input)", "backward_weight": "backward (weight)"}
#: Greys for the three phases (dark to light): outside the run/device palette on purpose.
PHASE_COLOURS = ("#333333", "#888888", "#C8C8C8")


def layer_breakdown_figure(run: Any, *, max_layers: int = 24, min_share: float = 0.01,
                           style: str | Style = "paper-single", notes: list[str] | None = None) -> Any:
    """Stacked bars per module (dense hatched, sparse solid) from one run's layers.json; modules
    other than convolutions and linear layers under ``min_share`` of the costliest one would draw
    no visible bar and are left out (said)."""
    st = get_style(style)
    comp = as_comparison(run)
    if len(comp.summaries) != 1:
        raise BadInputError("the layer breakdown draws one run; call it once per run")
    summary = comp.summaries[0]
    layers = [lc for lc in summary.layers if lc.dense_total > 0 or lc.sparse_total > 0]
    if not layers:
        raise BadInputError(f"run {summary.name!r} has no per-layer counts (layers.json missing or empty)")
    top = max(lc.dense_total for lc in layers)
    thin = [lc for lc in layers if not lc.gemm and lc.dense_total < min_share * top]
    if thin:  # rows that would draw no visible bar
        share = sum(lc.dense_total for lc in thin) / sum(lc.dense_total for lc in layers)
        skip(notes, f"run {summary.name}: {len(thin)} layer(s) under {min_share:.0%} of the costliest left out "
                    f"({', '.join(lc.label for lc in thin)}; {share:.2%} of the step's dense FLOPs)")
        layers = [lc for lc in layers if lc not in thin]
    row_in = 0.16 if st.name != "slides" else 0.3
    fit = max(4, int((st.max_height_in - 0.9) / row_in))
    limit = min(max_layers, fit)
    if len(layers) > limit:  # keep the costliest, in model order
        keep = {lc.label for lc in sorted(layers, key=lambda lc: -lc.dense_total)[:limit]}
        skip(notes, f"run {summary.name}: {len(layers) - limit} cheapest of {len(layers)} layers left out "
                    f"(at most {limit} rows fit)")
        layers = [lc for lc in layers if lc.label in keep]
    factor, unit = unit_scale([lc.dense_total for lc in layers], "FLOP")
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
                               color=PHASE_COLOURS[i], alpha=alpha, hatch=hatch, edgecolor="white", linewidth=0.3,
                               label=f"{PHASE_LABELS[phase]}" if kind == "sparse" else None)
                for j, b in enumerate(bars):
                    tag(b, f"layer:{kind}:{phase}:{layers[j].label}")
                left = [a + b for a, b in zip(left, vals)]
        ax.set_yticks(range(n), [lc.label for lc in reversed(layers)])
        ax.set_xlabel(f"FLOPs per training step ({unit}), counted")
        ax.set_ylabel("Layer (module path)")
        ax.grid(axis="y", visible=False)
        from matplotlib.patches import Patch

        handles, labels = ax.get_legend_handles_labels()
        handles.append(Patch(facecolor="#888888", alpha=0.45, hatch="////", edgecolor="white"))
        labels.append("dense (hatched)")
        ax.legend(handles, labels, loc="lower right")
        untangle_ticks(fig)
    return fig
