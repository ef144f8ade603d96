"""`zerofl-profile estimate`: parse the options, call analysis.estimate.estimate_run, render the tables."""

from __future__ import annotations

from typing import Any

import click

from .options import CostingSelection, costing_options, emit_json


@click.command("estimate")
@click.argument("run", metavar="RUN_DIR|TRACE")
@costing_options
@click.option("--seed", type=int, default=None,
              help="Seed of the --device-mix assignment (default: the run's seed, else 0).")
@click.option("--per-round/--no-per-round", default=None,
              help="Show the per-round table (default: on for runs of at most 20 rounds).")
@click.option("--measured-as", "measured_as", default=None, metavar="NAME",
              help="Set the run's measured time, energy and memory beside this requested device's estimate "
                   "(default: the requested device that matches the run's recorded device; see docs/accelerators.md).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def estimate(run: str, costing: CostingSelection, seed: int | None, per_round: bool | None, measured_as: str | None,
             as_json: bool) -> None:
    """Per-round time (compute, communication) and energy of RUN on each device, and sparse vs dense;
    the run's own measurements beside the estimate of the device it ran on."""
    from ..analysis.estimate import CHECK_FIELDS, check_against_run, estimate_run
    from ..hardware_models import Costing
    from ..traces import load_run

    resolved = Costing.from_selection(costing)
    data = load_run(run, fields=CHECK_FIELDS)
    est = estimate_run(data, resolved, seed=seed)
    check = check_against_run(data, est, measured_as)
    if as_json:
        emit_json({**est.to_json(), "measured_vs_estimated": check.to_json()})
        return
    _render(est, per_round)
    _render_check(check)


def _fmt_ratio(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x * 100:+.1f}%" if pct else f"{x:.2f}x"


def _render(est: Any, per_round: bool | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..units import fmt_energy, fmt_time

    con = Console(width=max(Console().width, 160))  # wide tables: never cut names off
    t = Table(title=f"run {est.run_id}: {est.records} client-rounds re-costed "
                    f"(network: {est.network or 'none'}; {est.basis} basis)")
    for col in ("device", "time", "compute", "comm", "energy", "wait (idle)", "dense time", "dense energy",
                "speed-up", "energy saving", "fits RAM"):
        t.add_column(col, justify="left" if col == "device" else "right")
    for d in est.devices:
        c = d.total
        t.add_row(d.device, fmt_time(c.time_s), fmt_time(c.compute_s), fmt_time(c.comm_s), fmt_energy(c.energy_j),
                  fmt_energy(c.wait_energy_j), fmt_time(c.dense_time_s), fmt_energy(c.dense_energy_j),
                  _fmt_ratio(c.speedup), _fmt_ratio(c.energy_saving, pct=True),
                  {True: "yes", False: "NO", None: "?"}[d.fits])
    con.print(t)
    n_rounds = len(est.devices[0].round_ids) if est.devices else 0  # not .rounds: one object per round
    if per_round or (per_round is None and n_rounds <= 20):
        rt = Table(title="per round (time = slowest client: download + compute + upload; energy = sum)")
        for col in ("device", "round", "clients", "time", "compute", "comm", "energy", "speed-up"):
            rt.add_column(col, justify="left" if col == "device" else "right")
        for d in est.devices:
            for r in d.rounds:
                c = r.cost
                rt.add_row(d.device, str(r.round), str(r.clients), fmt_time(c.time_s), fmt_time(c.compute_s),
                           fmt_time(c.comm_s), fmt_energy(c.energy_j), _fmt_ratio(c.speedup))
        con.print(rt)
    for n in est.notes:
        con.print(f"note: {n}")
    from ..hardware_models.results import assumption_lines

    for line in assumption_lines(est.assumptions):
        con.print(f"assumes {line}")
    con.print("note: totals sum the rounds; clients waiting for the straggler draw idle power, shown as "
              "'wait (idle)' and not included in energy")
    if est.mix:
        con.print(f"device mix (seed {est.mix['seed']}): {est.mix['assignment']}")


def _render_check(check: Any) -> None:
    """The calibration table: measured beside estimated on the run's own device, with the ratio."""
    from rich.console import Console
    from rich.table import Table

    from ..units import fmt_bytes, fmt_energy, fmt_time

    con = Console(width=max(Console().width, 160))
    if check.device is None:
        con.print(f"measured vs estimated: {check.match.note}")
        return
    fmt = {"time_s": fmt_time, "energy_j": fmt_energy, "peak_mem_bytes": fmt_bytes}
    label = {"time_s": "client time", "energy_j": "client energy", "peak_mem_bytes": "peak memory/client"}
    t = Table(title=f"measured on {check.run_device.device} ({check.run_device.name}) vs estimated on {check.device}")
    for col in ("quantity", "measured", "measured as", "estimated", "estimated as", "measured/estimated"):
        t.add_column(col, justify="right" if col in ("measured", "estimated", "measured/estimated") else "left")
    for c in check.checks:
        f = fmt[c.quantity]
        t.add_row(label[c.quantity], "-" if c.measured is None else f(c.measured), c.measured_source,
                  "-" if c.estimated is None else f(c.estimated), c.estimated_basis, _fmt_ratio(c.ratio))
    con.print(t)
    con.print(f"note: {check.match.note}")
