"""`zerofl-profile compare`: parse the options, call analysis.whatif.compare_model, render the table."""

from __future__ import annotations

from typing import Any

import click

from ..vocab import ENCODINGS, UPLOADS
from .options import MODEL_HELP, CostingSelection, costing_options, emit_json, parse_float_list, parse_int_tuple


@click.command("compare")
@click.option("--model", default="resnet18", show_default=True, metavar="NAME|SPEC",
              help=MODEL_HELP)
@click.option("--input-shape", default=None, metavar="C,H,W", help="Input shape without batch (default: the model's).")
@click.option("--num-classes", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--steps", type=int, default=10, show_default=True, help="Local training steps per client-round.")
@click.option("--sparsity", "sparsities", default="0,0.9,0.95", show_default=True, metavar="S,S,...",
              help="Weight and activation sparsities to compare (SWAT sets both).")
@click.option("--upload", default="dense", show_default=True,
              type=click.Choice(UPLOADS))
@click.option("--encoding", default="csr", show_default=True, type=click.Choice(ENCODINGS))
@click.option("--mask-ratio", type=float, default=0.0, show_default=True,
              help="Extra fraction of weights uploaded beyond 1 - sparsity (top-k uploads only).")
@click.option("--clients", type=int, default=None,
              help="Clients in the priced round (default 1; 10 with --device-mix).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --device-mix assignment.")
@costing_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def compare(model: str, input_shape: str | None, num_classes: int, batch_size: int, steps: int, sparsities: str,
            upload: str, encoding: str, mask_ratio: float, clients: int | None, seed: int,
            costing: CostingSelection, as_json: bool) -> None:
    """Time and energy of one round for every (device, sparsity) pair, without a trace."""
    from ..analysis.whatif import ModelWorkload, compare_model
    from ..hardware_models import Costing

    work = ModelWorkload(model, parse_int_tuple(input_shape) if input_shape else None, num_classes, batch_size,
                         steps, parse_float_list(sparsities, "--sparsity"), upload, encoding, mask_ratio).check()
    resolved = Costing.from_selection(costing)  # fail fast on bad devices, before building the model
    res = compare_model(work, resolved, clients=clients, seed=seed)
    if as_json:
        emit_json(res.to_json())
        return
    _render(res)


def _render(res: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..units import fmt_bytes, fmt_energy, fmt_time

    w = res.workload
    t = Table(title=f"{w.get('model')} batch {w.get('batch_size')} x {res.steps} steps, {res.clients} client(s) "
                    f"(network: {res.network or 'none'}; upload {w.get('upload')}/{w.get('encoding')})")
    for col in ("device", "sparsity", "time", "compute", "comm", "energy", "compute E", "comm E", "upload",
                "speed-up", "energy saving", "fits RAM"):
        t.add_column(col, justify="left" if col == "device" else "right")
    for p in res.points:
        c = p.cost
        t.add_row(p.device, f"{p.sparsity:g}", fmt_time(c.time_s), fmt_time(c.compute_s), fmt_time(c.comm_s),
                  fmt_energy(c.energy_j), fmt_energy(c.compute_energy_j), fmt_energy(c.comm_energy_j),
                  fmt_bytes(p.bytes_up), "-" if c.speedup is None else f"{c.speedup:.2f}x",
                  "-" if c.energy_saving is None else f"{c.energy_saving * 100:+.1f}%",
                  {True: "yes", False: "NO", None: "?"}[p.memory.fits])
    con = Console(width=max(Console().width, 160))  # wide tables: never cut names off
    con.print(t)
    for n in res.notes:
        con.print(f"note: {n}")
    from ..hardware_models.results import assumption_lines

    for line in assumption_lines(res.assumptions):
        con.print(f"assumes {line}")
    con.print("note: speed-up and energy saving compare each sparsity with the same round run dense (dense upload); "
              f"a round of {res.clients} client(s): time = the slowest client, energy = the sum over clients")
