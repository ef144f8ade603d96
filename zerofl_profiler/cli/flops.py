"""``zerofl-profile flops``: per-layer FLOPs and bytes of one training step, dense vs SWAT-sparse."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..errors import BadInputError
from ..vocab import GEMM_CLASSES, GEMM_PHASES, TOPK_CLASSES
from .options import MODEL_HELP, emit_json, parse_dense_layers, parse_int_tuple, resolve_sparsity, sparsity_options


def render_table(report: Any, console: Any) -> None:
    """A readable per-layer table with totals and the dense/sparse FLOP ratio."""
    from rich.table import Table

    from ..units import fmt_bytes, fmt_flops

    phases = GEMM_PHASES
    t = Table(title=f"{report.model}: one training step, batch {report.batch_size}, "
                    f"input {'x'.join(map(str, report.input_shape))}, weight sparsity {report.weight_sparsity:g}, "
                    f"activation sparsity {report.activation_sparsity:g} "
                    f"(FLOP; top-k rows: cmp = comparisons, ent = kept entries)")
    t.add_column("layer")
    t.add_column("type")
    t.add_column("class")
    for kind in ("dense", "sparse"):
        for p in ("fwd", "bwd in", "bwd w"):
            t.add_column(f"{kind} {p}", justify="right")
    t.add_column("update", justify="right")
    t.add_column("weights", justify="right")
    t.add_column("dw/da", justify="right")
    for r in report.layers:
        if not any(r.dense.values()) and not any(r.sparse.values()) and not any(
                r.bytes[k] for k in ("weights", "input", "output")):
            continue  # a module that only dispatches ops (views, a Flatten): its count is in --json launches
        swat = r.op_class in GEMM_CLASSES + TOPK_CLASSES
        dens = f"{r.weight_density:.2g}/{r.activation_density:.2g}" if swat else ""
        unit = {"topk": "cmp", "topk_kept": "ent"}.get(r.op_class)  # comparisons / kept entries, not FLOPs
        fmt = (lambda v, u=unit: fmt_flops(v).replace("FLOP", u)) if unit else fmt_flops
        t.add_row(r.name, r.type, r.op_class, *(fmt(r.dense[p]) for p in phases),
                  *(fmt(r.sparse[p]) for p in phases), fmt(r.sparse["update"]),
                  fmt_bytes(r.bytes["weights"]) if r.bytes["weights"] else "", dens)
    tot = report.totals
    t.add_section()
    for label, keys in (("GEMM", phases), ("elementwise", ("elementwise",)), ("optimizer", ("optimizer",)),
                        ("total", ("total",))):
        cells = []
        for kind in ("dense", "sparse"):
            if len(keys) == 3:
                cells += [fmt_flops(tot[kind][k]) for k in keys]
            else:
                cells += ["", "", fmt_flops(tot[kind][keys[0]])]
        t.add_row(f"[bold]{label}[/bold]", "", "", *cells, "", "", "")
    console.print(t)
    ratio = report.flop_reduction
    gemm = report.gemm_flop_reduction
    console.print(f"flop_reduction (dense/sparse total, elementwise + optimizer included): "
                  f"[bold]{ratio:.3f}x[/bold]" if ratio else "flop_reduction: n/a")
    if gemm:
        topk = fmt_flops(tot['sparse']['topk']).replace('FLOP', '')
        console.print(f"GEMM-only reduction: {gemm:.3f}x; top-k masks: {topk}comparisons + kept entries "
                      f"(not in the totals)")
    if report.uncounted:
        items = ", ".join(f"{u['name']}:{u['op']} x{u['count']}" for u in report.uncounted)
        console.print(f"[yellow]uncounted ops (no formula): {items}[/yellow]")


@click.command("flops")
@click.option("--model", "model_spec", default="resnet18", show_default=True, metavar="NAME|SPEC",
              help=MODEL_HELP)
@click.option("--input-shape", default=None, metavar="C,H,W",
              help="Input shape without the batch dim (default: the built-in model's own).")
@click.option("--num-classes", type=int, default=10, show_default=True, help="Classes of the model's head.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Samples per training step.")
@sparsity_options
@click.option("--dense-layers", default=None, metavar="NAME,...",
              help="Layers kept dense, replacing the default (the first conv); 'none' for no dense layer.")
@click.option("--dtype", default="float32", show_default=True, help="Element type for byte counts.")
@click.option("--optimizer", default="sgd", show_default=True,
              help="Update counted: sgd, sgd_wd, sgd_momentum, sgd_momentum_wd, sgd_nesterov, adam, adadelta, "
                   "rmsprop_momentum_wd, none.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of the table.")
def flops(model_spec: str, input_shape: str | None, num_classes: int, batch_size: int, sparsity: float | None,
          weight_sparsity: float | None, activation_sparsity: float | None, dense_layers: str | None, dtype: str,
          optimizer: str, as_json: bool) -> None:
    """Count FLOPs (forward, backward_input, backward_weight; dense and SWAT-sparse) and bytes per layer."""
    sp = resolve_sparsity(sparsity, weight_sparsity, activation_sparsity)
    dense = parse_dense_layers(dense_layers)
    if batch_size <= 0:
        raise BadInputError(f"--batch-size must be a positive integer, got {batch_size}")
    from ..flops import count_training_step
    from ..models import build_model, default_input_shape

    from ..models import MODELS

    if input_shape is not None:
        shape = parse_int_tuple(input_shape, "input shape")
    elif model_spec in MODELS:
        shape = default_input_shape(model_spec)
    else:
        build_model(model_spec, num_classes)  # a spec that does not load says so first
        raise BadInputError(f"--input-shape is required for the custom model {model_spec!r}")
    model = build_model(model_spec, num_classes, shape)
    report = count_training_step(model, shape, batch_size, weight_sparsity=sp.weight,
                                 activation_sparsity=sp.activation, dense_layers=dense, dtype=dtype,
                                 num_classes=num_classes, optimizer=optimizer, model_name=model_spec)
    if as_json:
        emit_json(report.to_json())
        return
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 200)
    render_table(report, console)
