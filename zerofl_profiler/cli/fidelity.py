"""`zerofl-profile fidelity`: device models against published, measured training steps."""

from __future__ import annotations

import click

from .options import emit_json, stderr_console


@click.command("fidelity")
@click.option("--rows", "rows_file", default=None, metavar="FILE.toml", type=click.Path(dir_okay=False),
              help="Published rows to use instead of the package's (same format as calibration/published/rows.toml).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def fidelity(rows_file: str | None, as_json: bool) -> None:
    """Per published row: measured vs predicted step time and energy, in-sample, held out by model and by device,
    and rows of a source no fit saw (independent check)."""
    from ..calibration.published.fidelity import run_fidelity
    from ..calibration.published.rows import load_rows
    from ..calibration.published.summary import (by_device_lines, by_model_lines, check_lines, summary_lines,
                                                    table_lines, to_json)
    from ..calibration.published.workloads import row_workload

    rows = load_rows(rows_file)
    console = stderr_console()
    rep = run_fidelity(rows, row_workload, progress=None if as_json else (lambda m: console.print(f"[dim]{m}[/dim]")))
    if as_json:
        emit_json(to_json(rep))
        return
    checks = check_lines(rep) + [""] if rep.checks else []
    for line in (table_lines(rep) + [""] + by_model_lines(rep) + [""] + by_device_lines(rep) + [""] + checks
                 + summary_lines(rep)):
        click.echo(line)
