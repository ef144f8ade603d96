"""`zerofl-profile report`: one readable report from one or more recorded runs."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import BadInputError, check_fraction
from .options import CostingSelection, costing_options, stderr_console


@click.command("report")
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR...")
@costing_options
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default=None,
              help="Output format (default: from --out's suffix, else md).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout (same as --format json).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
@click.option("--target-accuracy", type=float, default=None,
              help="Report time and energy to reach this test accuracy (fraction, e.g. 0.8).")
def report(run_dirs: tuple[str, ...], costing: CostingSelection, fmt: str | None, as_json: bool, out: str | None,
           target_accuracy: float | None) -> None:
    """Summarise runs side by side: accuracy, FLOPs, bytes, measured and estimated time, energy and memory."""
    from ..analysis.comparison import compare_runs
    from ..report import render
    from ..traces.atomic import atomic_write

    if as_json and fmt not in (None, "json"):
        raise BadInputError(f"--json and --format {fmt} disagree; give one of them")
    if target_accuracy is not None:
        check_fraction("--target-accuracy", target_accuracy, allow_one=True)
    fmt = "json" if as_json else (fmt or _format_from_suffix(out))
    text = render(compare_runs(run_dirs, costing, target_accuracy=target_accuracy), fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    p = Path(out)
    if p.parent and not p.parent.exists():
        raise BadInputError(f"cannot write {p}: folder {p.parent} does not exist")
    atomic_write(p, text)  # a full disk leaves the old file (or none), never a partial one
    stderr_console().print(f"wrote {p} ({fmt})")


def _format_from_suffix(out: str | None) -> str:
    suffix = Path(out).suffix.lower().lstrip(".") if out else ""
    return {"html": "html", "htm": "html", "json": "json"}.get(suffix, "md")
