"""Paper-ready figures from recorded runs: one function per figure, each returning a matplotlib Figure.

``FIGURES`` maps a file stem to how to draw it from a :class:`PlotInputs`; :func:`render_figures`
writes every figure that the inputs allow and says why any other was skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..analysis.summary import RunSummary
from ..errors import BadInputError, unknown_name
from ..report.costs import DeviceCost
from .accuracy import accuracy_figure
from .devices import device_comparison_figure
from .layers import layer_breakdown_figure
from .style import FORMATS, PALETTES, STYLES, Style, get_style, save_figure
from .sweep import sparsity_sweep_figure
from .target import target_figure
from .uploads import upload_figure


@dataclass(frozen=True)
class PlotInputs:
    """What every figure may draw from: run summaries, device estimates per run_id, a target accuracy."""

    summaries: tuple[RunSummary, ...]
    costs: Mapping[str, tuple[DeviceCost, ...]] = field(default_factory=dict)
    target_accuracy: float | None = None


@dataclass(frozen=True)
class FigureSpec:
    """A figure: its description and a builder yielding (file stem, Figure) pairs."""

    title: str
    build: Callable[[PlotInputs, Style], list[tuple[str, Any]]]


def _layers(inp: PlotInputs, st: Style) -> list[tuple[str, Any]]:
    out = [(f"layers-{s.name}", layer_breakdown_figure(s, style=st)) for s in inp.summaries if s.layers]
    if not out:
        raise BadInputError("no run has layers.json")
    return out


def _target(inp: PlotInputs, st: Style) -> list[tuple[str, Any]]:
    if inp.target_accuracy is None:
        raise BadInputError("pass --target-accuracy to draw time and energy to a target")
    return [("target", target_figure(inp.summaries, inp.target_accuracy, inp.costs, style=st))]


FIGURES: dict[str, FigureSpec] = {
    "accuracy": FigureSpec("Test accuracy vs round and vs cumulative client energy",
                           lambda i, st: [("accuracy", accuracy_figure(i.summaries, i.costs, style=st))]),
    "layers": FigureSpec("Per-layer FLOPs by phase, dense vs sparse (one per run)", _layers),
    "devices": FigureSpec("What-if: estimated time and energy per round per device, dense vs sparse",
                          lambda i, st: [("devices", device_comparison_figure(i.summaries, i.costs, style=st))]),
    "uploads": FigureSpec("Upload bytes per round by upload variant and mask ratio",
                          lambda i, st: [("uploads", upload_figure(i.summaries, style=st))]),
    "sweep": FigureSpec("Sparsity sweep: FLOP reduction, estimated speed-up, accuracy",
                        lambda i, st: [("sweep", sparsity_sweep_figure(i.summaries, i.costs, style=st))]),
    "target": FigureSpec("Time and energy to the target accuracy", _target),
}


@dataclass(frozen=True)
class RenderResult:
    """Files written, and figures skipped with the reason."""

    files: tuple[Path, ...]
    skipped: tuple[tuple[str, str], ...]


def build_figures(inp: PlotInputs, style: str | Style = "paper-double",
                  names: Sequence[str] | None = None) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
    """Draw the named figures (all by default): ([(stem, Figure)], [(name, why skipped)])."""
    st = get_style(style)
    figs: list[tuple[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for name in names or list(FIGURES):
        if name not in FIGURES:
            raise BadInputError(unknown_name("figure", name, FIGURES))
        try:
            figs.extend(FIGURES[name].build(inp, st))
        except BadInputError as exc:
            skipped.append((name, str(exc)))
    return figs, skipped


def render_figures(inp: PlotInputs, out_dir: str | Path, formats: Sequence[str] = ("pdf", "png"),
                   style: str | Style = "paper-double", names: Sequence[str] | None = None) -> RenderResult:
    """Write every figure the inputs allow to ``out_dir`` in each format."""
    figs, skipped = build_figures(inp, style, names)
    files: list[Path] = []
    for stem, fig in figs:
        files.extend(save_figure(fig, out_dir, _safe(stem), formats, style))
    return RenderResult(tuple(files), tuple(skipped))


def _safe(stem: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem)


__all__ = ["FIGURES", "FORMATS", "PALETTES", "STYLES", "FigureSpec", "PlotInputs", "RenderResult",
           "accuracy_figure", "build_figures", "device_comparison_figure", "get_style", "layer_breakdown_figure",
           "render_figures", "save_figure", "sparsity_sweep_figure", "target_figure", "upload_figure"]
