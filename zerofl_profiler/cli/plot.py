"""`zerofl-profile plot`: paper-ready figures from one or more recorded runs."""

from __future__ import annotations

import click

from ..errors import BadInputError, check_fraction
from .options import CostingSelection, costing_options


@click.command("plot")
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR...")
@costing_options
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder for the figure files.")
@click.option("--format", "formats", default="pdf,png", show_default=True, metavar="pdf,png,svg",
              help="Comma-separated file formats.")
@click.option("--style", default="paper-double", show_default=True,
              metavar="paper-single|paper-double|slides", help="Figure size and font size.")
@click.option("--figure", "figures", multiple=True, metavar="NAME",
              help="Only these figures (repeatable): accuracy, layers, devices, uploads, sweep, target.")
@click.option("--target-accuracy", type=float, default=None,
              help="Also draw time and energy to reach this test accuracy (fraction, e.g. 0.8).")
def plot(run_dirs: tuple[str, ...], costing: CostingSelection, out: str, formats: str, style: str,
         figures: tuple[str, ...], target_accuracy: float | None) -> None:
    """Write every figure the runs allow (file paths on stdout; skipped figures and panels, and why, on stderr)."""
    from ..analysis.comparison import compare_runs
    from ..plots import FIGURES, render_figures
    from ..plots.style import FORMATS, get_style

    fmts = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    bad = [f for f in fmts if f not in FORMATS]
    if not fmts or bad:
        raise BadInputError(f"--format must be a comma-separated subset of {','.join(FORMATS)}, got {formats!r}")
    st = get_style(style)
    unknown = [f for f in figures if f not in FIGURES]
    if unknown:
        raise BadInputError(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    if target_accuracy is not None:
        check_fraction("--target-accuracy", target_accuracy, allow_one=True)
    comparison = compare_runs(run_dirs, costing, target_accuracy=target_accuracy)
    res = render_figures(comparison, out, fmts, st, figures or None)
    if not res.files:
        reasons = "; ".join(f"{name}: {why}" for name, why in res.skipped)
        raise BadInputError(f"no figure could be drawn from these runs ({reasons})")
    for name, why in res.skipped:
        click.echo(f"skipped {name}: {why}", err=True)
    for name, why in res.notes:
        click.echo(f"left out of {name}: {why}", err=True)
    for p in res.files:
        click.echo(str(p))
