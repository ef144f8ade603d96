"""`zerofl-profile export`: a run as flat tables (CSV or Parquet), with estimated cost per device."""

from __future__ import annotations

import click

from .options import CostingSelection, costing_options


@click.command("export")
@click.argument("run", metavar="RUN_DIR")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default=None,
              help="Output format (default: from --out's suffix).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Client-round table; the round table goes beside it as NAME.rounds.EXT.")
@costing_options
def export(run: str, fmt: str | None, out: str, costing: CostingSelection) -> None:
    """One row per client-round (and one per round), with estimated time and energy per --device."""
    from pathlib import Path

    from ..errors import BadInputError
    from ..traces import load_run
    from ..traces.export import build_table, check_format, write_tables

    if fmt is None:
        suffix = Path(out).suffix.lower().lstrip(".")
        if suffix not in ("parquet", "csv"):
            raise BadInputError(f"cannot tell the format from {out!r}: give --format parquet or --format csv")
        fmt = suffix
    check_format(fmt)  # a missing extra is reported before any work
    data = load_run(run)
    client_extra: dict = {}
    round_extra: dict = {}
    if costing.devices or costing.device_files or costing.device_mix:
        from ..analysis.estimate import resolve_costing
        from ..analysis.export import estimate_tables

        client_extra, round_extra = estimate_tables(data, resolve_costing(costing))
    tables = {"clients": build_table(data, "clients", client_extra), "rounds": build_table(data, "rounds", round_extra)}
    paths = write_tables(tables, fmt, out)
    click.echo(f"wrote {', '.join(str(p) for p in paths)} "
               f"({len(data.columns)} client-rounds, {len(data.rounds)} rounds)", err=True)
