"""Paper-ready figures from a run comparison: one function per figure, each returning a matplotlib Figure.

Every figure function takes runs as a :class:`~zerofl_profiler.analysis.comparison.RunComparison`,
run directories, ``RunData`` or run summaries. ``FIGURES`` maps a file stem to how to draw it from
a comparison; :func:`build_figures` draws every figure the comparison allows and says why any
other figure (or panel) was left out. This package never imports ``report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..analysis.comparison import RunComparison, as_comparison
from ..errors import BadInputError, unknown_name
from .accuracy import accuracy_figure
from .devices import device_comparison_figure
from .layers import layer_breakdown_figure
from .style import FORMATS, PALETTES, STYLES, Style, get_style, save_figure
from .sweep import sparsity_sweep_figure
from .target import target_figure
from .uploads import upload_figure

Builder = Callable[[RunComparison, Style, list[str]], list[tuple[str, Any]]]


@dataclass(frozen=True)
class FigureSpec:
    """A figure: its description and a builder yielding (file stem, Figure) pairs."""

    title: str
    build: Builder


def _layers(c: RunComparison, st: Style, notes: list[str]) -> list[tuple[str, Any]]:
    out = [(f"layers-{s.name}", layer_breakdown_figure(s, style=st, notes=notes)) for s in c.summaries if s.layers]
    if not out:
        raise BadInputError("no run has layers.json")
    return out


def _target(c: RunComparison, st: Style, notes: list[str]) -> list[tuple[str, Any]]:
    if c.target_accuracy is None:
        raise BadInputError("pass --target-accuracy to draw time and energy to a target")
    return [("target", target_figure(c, c.target_accuracy, style=st, notes=notes))]


FIGURES: dict[str, FigureSpec] = {
    "accuracy": FigureSpec("Test accuracy vs round and vs cumulative client energy",
                           lambda c, st, n: [("accuracy", accuracy_figure(c, style=st, notes=n))]),
    "layers": FigureSpec("Per-layer FLOPs by phase, dense vs sparse (one per run)", _layers),
    "devices": FigureSpec("What-if: estimated time and energy per round per device, dense vs sparse",
                          lambda c, st, n: [("devices", device_comparison_figure(c, style=st, notes=n))]),
    "uploads": FigureSpec("Upload bytes per round by upload variant and mask ratio",
                          lambda c, st, n: [("uploads", upload_figure(c, style=st, notes=n))]),
    "sweep": FigureSpec("Sparsity sweep: FLOP reduction, estimated speed-up, accuracy",
                        lambda c, st, n: [("sweep", sparsity_sweep_figure(c, style=st, notes=n))]),
    "target": FigureSpec("Time and energy to the target accuracy", _target),
}


@dataclass(frozen=True)
class DrawnFigures:
    """Figures drawn, figures skipped (name, why) and panels left out of drawn figures (notes)."""

    figures: tuple[tuple[str, Any], ...]
    skipped: tuple[tuple[str, str], ...]
    notes: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        """One line."""
        return (f"DrawnFigures(figures={[s for s, _ in self.figures]}, skipped={[n for n, _ in self.skipped]}, "
                f"notes={len(self.notes)})")


@dataclass(frozen=True)
class RenderResult:
    """Files written, figures skipped and panels left out, each with the reason."""

    files: tuple[Path, ...]
    skipped: tuple[tuple[str, str], ...]
    notes: tuple[tuple[str, str], ...] = ()


def build_figures(comparison: Any, style: str | Style = "paper-double",
                  names: Sequence[str] | None = None) -> DrawnFigures:
    """Draw the named figures (all by default) from a comparison (or runs)."""
    st = get_style(style)
    comp = as_comparison(comparison)
    figs: list[tuple[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    for name in names or list(FIGURES):
        if name not in FIGURES:
            raise BadInputError(unknown_name("figure", name, FIGURES))
        msgs: list[str] = []
        try:
            figs.extend(FIGURES[name].build(comp, st, msgs))
        except BadInputError as exc:
            skipped.append((name, str(exc)))
        notes.extend((name, m) for m in msgs)
    return DrawnFigures(tuple(figs), tuple(skipped), tuple(notes))


def render_figures(comparison: Any, out_dir: str | Path, formats: Sequence[str] = ("pdf", "png"),
                   style: str | Style = "paper-double", names: Sequence[str] | None = None) -> RenderResult:
    """Write every figure the comparison allows to ``out_dir`` in each format."""
    drawn = build_figures(comparison, style, names)
    files: list[Path] = []
    for stem, fig in drawn.figures:
        files.extend(save_figure(fig, out_dir, _safe(stem), formats, style))
    return RenderResult(tuple(files), drawn.skipped, drawn.notes)


def _safe(stem: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem)


__all__ = ["FIGURES", "FORMATS", "PALETTES", "STYLES", "DrawnFigures", "FigureSpec", "RenderResult",
           "accuracy_figure", "build_figures", "device_comparison_figure", "get_style", "layer_breakdown_figure",
           "render_figures", "save_figure", "sparsity_sweep_figure", "target_figure", "upload_figure"]
