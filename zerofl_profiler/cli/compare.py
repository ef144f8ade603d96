"""`zerofl-profile compare`: a trace-less what-if of one client-round per (device, sparsity)."""

from __future__ import annotations

from typing import Any

import click

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
              type=click.Choice(["dense", "topk-weights", "diff-topk-weights", "topk-diff"]))
@click.option("--encoding", default="csr", show_default=True, type=click.Choice(["csr", "bitmask", "dense"]))
@click.option("--mask-ratio", type=float, default=0.0, show_default=True,
              help="Extra fraction of weights uploaded beyond 1 - sparsity (top-k uploads only).")
@costing_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def compare(model: str, input_shape: str | None, num_classes: int, batch_size: int, steps: int, sparsities: str,
            upload: str, encoding: str, mask_ratio: float, costing: CostingSelection, as_json: bool) -> None:
    """Time and energy of one client-round for every (device, sparsity) pair, without a trace."""
    from ..analysis.estimate import compare_workload, resolve_costing
    from ..errors import BadInputError, check_fraction

    sps = tuple(check_fraction("sparsity", s) for s in parse_float_list(sparsities, "--sparsity"))
    if mask_ratio < 0 or mask_ratio > 1:
        raise BadInputError(f"--mask-ratio must be in [0, 1], got {mask_ratio}")
    if batch_size <= 0 or steps <= 0:
        raise BadInputError("--batch-size and --steps must be positive")
    resolved = resolve_costing(costing)  # fail fast on bad devices, before building the model
    work = _workload(model, input_shape, num_classes, batch_size, sps, upload, encoding, mask_ratio)
    res = compare_workload(work["reports"], steps, resolved, bytes_down=work["bytes_down"],
                           bytes_up=work["bytes_up"], bytes_up_dense=work["bytes_down"],
                           workload={"model": model, "input_shape": list(work["input_shape"]),
                                     "batch_size": batch_size, "steps": steps, "upload": upload,
                                     "encoding": encoding, "mask_ratio": mask_ratio})
    if as_json:
        emit_json(res.to_json())
        return
    _render(res)


def _workload(model: str, input_shape: str | None, num_classes: int, batch_size: int, sps: tuple[float, ...],
              upload: str, encoding: str, mask_ratio: float) -> dict[str, Any]:
    """Count the model once per sparsity and size its upload/download (the only torch use here)."""
    from ..analysis.workload import upload_bytes
    from ..flops import count_from_trace, sparsifiable_layers, trace_model
    from ..models import build_model, default_input_shape

    shape = parse_int_tuple(input_shape) if input_shape else tuple(default_input_shape(model))
    net = build_model(model, num_classes, shape)
    trace = trace_model(net, shape, batch_size, name=model)
    reports = {s: count_from_trace(trace, weight_sparsity=s, num_classes=num_classes).to_json() for s in sps}
    tensors = {k: (int(v.numel()), int(v.element_size())) for k, v in net.state_dict().items()
               if v.is_floating_point()}
    gemm = frozenset(f"{n}.weight" for n in sparsifiable_layers(net))
    down = upload_bytes(tensors, gemm, sparsity=0.0)
    up = {s: upload_bytes(tensors, gemm, sparsity=s, upload=upload, encoding=encoding, mask_ratio=mask_ratio)
          for s in sps}
    return {"reports": reports, "bytes_down": float(down), "bytes_up": up, "input_shape": shape}


def _render(res: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..units import fmt_bytes, fmt_energy, fmt_time

    w = res.workload
    t = Table(title=f"{w.get('model')} batch {w.get('batch_size')} x {res.steps} steps per client-round "
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
    con.print("note: speed-up and energy saving compare each sparsity with the same client-round run dense "
              "(dense upload); a mix row takes the straggler's time and the share-weighted energy")
