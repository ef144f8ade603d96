"""Paper style: figure sizes for one- and two-column papers and slides, embedded TrueType fonts,
a named colour-blind-safe palette, and scaled units for axis labels.

Figures are built and saved inside :func:`style_context`, so nothing here touches the global
matplotlib state. PDFs and PostScript embed fonts as TrueType (``pdf.fonttype = 42``: no Type 3
fonts, which many publishers reject); SVGs draw glyphs as paths so they render identically with no
fonts installed. Use :func:`save_figure` (or set ``pdf.fonttype`` yourself) when saving a figure you
restyled.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import BadInputError, unknown_name
from ..traces.atomic import atomic_open

#: Colour-blind-safe palettes by name. Okabe & Ito (2008), "Color Universal Design";
#: Paul Tol's "bright" qualitative scheme (https://personal.sron.nl/~pault/).
PALETTES: dict[str, tuple[str, ...]] = {
    "okabe-ito": ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"),
    "tol-bright": ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB"),
}


@dataclass(frozen=True)
class Style:
    """A target medium: figure width/height in inches, base font size in points, raster dpi."""

    name: str
    width_in: float
    height_in: float
    font_pt: float
    dpi: int
    palette: str = "okabe-ito"
    max_height_in: float = 3.5

    @property
    def colors(self) -> tuple[str, ...]:
        """The palette's colours in cycle order."""
        return PALETTES[self.palette]


#: 3.5 in is the IEEE/ACM single column (3.33-3.5 in); 7.0 in the full text width; slides are 16:9.
#: Paper figures are never taller than 3.5 in (``max_height_in``), stacked panels included.
STYLES: dict[str, Style] = {
    "paper-single": Style("paper-single", 3.5, 2.6, 7.5, 300),
    "paper-double": Style("paper-double", 7.0, 2.6, 8.0, 300),
    "slides": Style("slides", 10.0, 5.6, 14.0, 150, max_height_in=7.5),
}
#: ``--style paper`` (the issue's short form) means the double-column size.
ALIASES = {"paper": "paper-double"}
FORMATS = ("pdf", "png", "svg")


def get_style(style: str | Style) -> Style:
    """A Style by name (or the Style itself); unknown names are a BadInputError listing the known."""
    if isinstance(style, Style):
        return style
    key = ALIASES.get(style, style)
    try:
        return STYLES[key]
    except KeyError:
        raise BadInputError(unknown_name("style", style, sorted(STYLES))) from None


def rc_params(style: Style) -> dict[str, Any]:
    """The matplotlib settings of a style."""
    from cycler import cycler

    fs = style.font_pt
    return {
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib, TrueType
        "mathtext.fontset": "dejavusans",
        "font.size": fs,
        "axes.titlesize": fs,
        "axes.labelsize": fs,
        "xtick.labelsize": fs * 0.9,
        "ytick.labelsize": fs * 0.9,
        "legend.fontsize": fs * 0.85,
        "legend.frameon": False,
        "axes.prop_cycle": cycler(color=list(style.colors)),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "grid.linewidth": 0.5,
        "lines.linewidth": 1.4 if style.name == "slides" else 1.1,
        "lines.markersize": 6 if style.name == "slides" else 3.5,
        "figure.dpi": 100,
        "savefig.dpi": style.dpi,
        "figure.constrained_layout.use": True,
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "svg.fonttype": "path",
        "axes.unicode_minus": False,
    }


@contextlib.contextmanager
def style_context(style: Style) -> Iterator[None]:
    """Apply a style for the duration of building or saving a figure (global state restored after)."""
    import matplotlib

    with matplotlib.rc_context(rc_params(style)):
        yield


def new_figure(style: Style, ncols: int = 1, nrows: int = 1, *, height_scale: float = 1.0,
               height_in: float | None = None, sharex: bool = False) -> tuple[Any, Any]:
    """A Figure of the style's width with a grid of axes, on an Agg canvas (no pyplot, no GUI)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h = min(style.max_height_in, height_in or style.height_in * height_scale)
    fig = Figure(figsize=(style.width_in, h), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex)
    return fig, axes


_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "\u00b5"))
_BINARY = ((2.0**40, "Ti"), (2.0**30, "Gi"), (2.0**20, "Mi"), (2.0**10, "Ki"), (1.0, ""))


def unit_scale(values: Sequence[float], unit: str) -> tuple[float, str]:
    """The divisor and prefixed unit that keep the largest value between 1 and 1000 (B: binary)."""
    finite = [abs(v) for v in values if v is not None and v == v]
    top = max(finite) if finite else 0.0
    table = _BINARY if unit == "B" else _PREFIXES
    for factor, prefix in table:
        if top >= factor:
            return factor, f"{prefix}{unit}"
    return table[-1][0], f"{table[-1][1]}{unit}"


def save_figure(fig: Any, out_dir: str | Path, stem: str, formats: Sequence[str], style: str | Style) -> list[Path]:
    """Write ``stem.<fmt>`` for each format with the style's fonts and dpi; return the paths."""
    st = get_style(style)
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise BadInputError(f"unknown figure format(s) {', '.join(bad)}; known: {', '.join(FORMATS)}")
    from ..errors import OutputError
    from ..traces.atomic import atomic_open

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError.from_os(exc, out, "cannot create folder") from None
    paths = []
    with style_context(st):
        for fmt in formats:
            p = out / f"{stem}.{fmt}"
            with atomic_open(p, "wb") as fh:  # a figure file is whole or absent, never half-written
                fig.savefig(fh, format=fmt, metadata=_metadata(fmt))
            paths.append(p)
    return paths


def _metadata(fmt: str) -> dict[str, Any]:
    """Reproducible files: no creation date in PDF/SVG, a fixed creator."""
    if fmt == "pdf":
        return {"Creator": "zerofl-profiler", "CreationDate": None}
    if fmt == "svg":
        return {"Creator": "zerofl-profiler", "Date": None}
    return {"Software": "zerofl-profiler"}
