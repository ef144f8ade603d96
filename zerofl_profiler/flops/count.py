"""Count one training step: shape pass -> per-op formulas -> rows -> SWAT scaling -> FlopReport.

Rows are keyed by (module, type, op class). An op run by a leaf module (Conv2d, BatchNorm2d,
ReLU, ...) lands in that module's row with ``type`` = its class name; an op run in a container's
own ``forward`` (a residual add, ``F.relu`` in a block) lands in a row named after the container
with ``type`` = the op. SWAT per sparsified GEMM row with weight density dw and activation
density da: forward and backward_input scale by dw, backward_weight by da; every other row
stays dense. Each sparsified layer also gets two top-k rows for the masks of its weight (when
dw < 1) and of its saved input activation (when da < 1), per step on average (see :mod:`.topk`):
``topk`` = the expected quickselect comparisons n (2 + 2 H(k/n)) and ``topk_kept`` = the k kept
entries, counted only for the steps that select (``selection_periods``: the weight's once per
``mask_every`` steps, the input's every step or, under ``swat-threshold``, once per ``mask_every``).
Their counts are not FLOPs and stay out of the FLOP totals (reported as ``topk``).

Dispatches (``launches`` per row and phase): the aten ops eager PyTorch dispatches, as the shape
pass counted them (:mod:`.capture`): a module's forward ops on its first row's ``forward``, its
backward ops on that row's first backward phase (``backward_input``, or ``backward_weight`` for a
layer that computes no input gradient); a module with dispatches but no FLOP row (views,
concatenations, channel shuffles) gets a zero-FLOP row of its own; the loss's on ``<loss>``; the
optimizer's per parameter tensor (:func:`.training.update_dispatches`) on ``<optimizer>``'s
``update``. Top-k rows keep their own kernel count downstream.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Mapping, Sequence

from torch import nn

from ..errors import BadInputError, check_fraction
from ..units import dtype_bytes
from .bytes import row_bytes
from .capture import trace_model
from .records import GEMM_CLASSES, PHASES, TOPK_CLASSES, Cost, ModelTrace
from .registry import lookup, normalise
from .report import FlopReport, LayerCount
from .topk import topk_counts
from .training import GRAD_RESET_OPS, cross_entropy_cost, get_optimizer, optimizer_cost, update_dispatches

Densities = Mapping[str, Mapping[str, float]]


def _layer_densities(trace: ModelTrace, weight_sparsity: float, activation_sparsity: float,
                     dense: Sequence[str], densities: Densities | None) -> dict[str, tuple[float, float]]:
    """(dw, da) per sparsifiable layer: measured values, else dense layers 1, else 1 - sparsity."""
    out = {n: (1.0, 1.0) if n in dense else (1.0 - weight_sparsity, 1.0 - activation_sparsity)
           for n in trace.sparsifiable}
    for name, d in (densities or {}).items():
        if name not in out:
            raise BadInputError(f"densities given for {name!r}, which is not a Conv2d/Linear layer of "
                                f"{trace.model}; layers: {', '.join(trace.sparsifiable)}")
        if not isinstance(d, Mapping) or "weight" not in d:
            raise BadInputError(f"densities[{name!r}] must be {{'weight': dw, 'activation': da}}")
        dw = check_fraction(f"weight density of {name}", d["weight"], allow_one=True)
        da = check_fraction(f"activation density of {name}", d.get("activation", dw), allow_one=True)
        out[name] = (dw, da)
    return out


def _dense_set(trace: ModelTrace, dense_layers: Sequence[str] | None) -> tuple[str, ...]:
    if dense_layers is None:
        return trace.default_dense
    names = tuple(str(n).strip() for n in dense_layers if str(n).strip())
    unknown = [n for n in names if n not in trace.sparsifiable]
    if unknown:
        raise BadInputError(f"unknown dense layer(s) {', '.join(unknown)}; Conv2d/Linear layers of "
                            f"{trace.model}: {', '.join(trace.sparsifiable)}")
    return names


def _scaled(counts: dict[str, int], dw: float, da: float) -> dict[str, int]:
    return {"forward": round(dw * counts["forward"]), "backward_input": round(dw * counts["backward_input"]),
            "backward_weight": round(da * counts["backward_weight"]), "update": counts["update"]}


def _sum_flops(costs: Sequence[Cost]) -> dict[str, int]:
    return {p: sum(getattr(c, p) for c in costs) for p in PHASES}


def _group(trace: ModelTrace) -> tuple[dict[tuple[str, str, str], list[Cost]], list[dict]]:
    rows: dict[tuple[str, str, str], list[Cost]] = {}
    uncounted: Counter[tuple[str, str]] = Counter()
    for rec in trace.ops:
        formula = lookup(rec.op)
        if formula is None:
            uncounted[(rec.module, rec.op)] += 1
            continue
        for c in formula(rec):
            typ = c.label or (rec.module_type if rec.leaf else normalise(rec.op))
            rows.setdefault((rec.module, typ, c.op_class), []).append(c)
    return rows, [{"name": n, "op": op, "count": k} for (n, op), k in uncounted.items()]


def _per_step(count: int, every: int) -> int:
    """A count done once per ``every`` steps, as a per-step average (rounded to the nearest integer)."""
    return count if every == 1 else int(round(count / every))


def _backward_phase(row: LayerCount) -> str:
    if row.op_class in GEMM_CLASSES and not row.dense["backward_input"] and row.dense["backward_weight"]:
        return "backward_weight"
    return "backward_input"


def _with_launches(layers: list[LayerCount], trace: ModelTrace, optimizer: str, grad_reset: str,
                   e: int) -> list[LayerCount]:
    """The rows with their dispatched aten ops per phase (module docstring); unchanged when not counted."""
    if not trace.dispatched:
        return layers
    first: dict[str, int] = {}
    for i, row in enumerate(layers):
        if row.op_class not in TOPK_CLASSES:
            first.setdefault(row.name, i)
    launches = [None if r.op_class in TOPK_CLASSES else {p: 0 for p in PHASES} for r in layers]
    extra: dict[str, dict[str, int]] = {}
    for module, phase, n in trace.dispatched:
        i = first.get(module)
        if i is None:
            counts = extra.setdefault(module, {p: 0 for p in PHASES})
            counts["forward" if phase == "forward" else "backward_input"] += n
            continue
        counts = launches[i]
        counts["forward" if phase == "forward" else _backward_phase(layers[i])] += n
    opt = first.get("<optimizer>")
    if opt is not None:
        launches[opt]["update"] += update_dispatches(optimizer, trace.param_tensors, grad_reset)
    out = [r if c is None else replace(r, launches=c) for r, c in zip(layers, launches)]
    zero = {p: 0 for p in PHASES}
    for module, counts in extra.items():
        out.append(LayerCount(module, trace.module_types.get(module, ""), "elementwise", dict(zero), dict(zero),
                              row_bytes([], e, sparsified=False, dw=1.0, da=1.0), launches=counts))
    return out


def count_from_trace(trace: ModelTrace, *, densities: Densities | None = None, weight_sparsity: float = 0.0,
                     activation_sparsity: float | None = None, dense_layers: Sequence[str] | None = None,
                     dtype: str = "float32", num_classes: int | None = None, optimizer: str = "sgd",
                     selection_periods: tuple[int, int] = (1, 1), grad_reset: str = "none") -> FlopReport:
    """Cost a captured shape pass; re-use one trace for many sparsities or measured densities.

    ``selection_periods`` = (weight, input) steps per top-k selection (``SparseConfig.selection_periods``).
    ``grad_reset`` = what ``zero_grad`` dispatches (:data:`.training.GRAD_RESET_OPS`).
    """
    if grad_reset not in GRAD_RESET_OPS:
        raise BadInputError(f"unknown gradient reset {grad_reset!r}; known: {', '.join(GRAD_RESET_OPS)}")
    w_every, x_every = selection_periods
    for v in selection_periods:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise BadInputError(f"selection periods must be positive integers, got {selection_periods!r}")
    ws = check_fraction("weight sparsity", weight_sparsity)
    as_ = ws if activation_sparsity is None else check_fraction("activation sparsity", activation_sparsity)
    e = dtype_bytes(dtype)
    opt = get_optimizer(optimizer)
    if num_classes is not None and trace.output_shape and trace.output_shape[-1] != int(num_classes):
        raise BadInputError(f"model {trace.model} outputs {trace.output_shape[-1]} classes, "
                            f"but num_classes is {num_classes}")
    dense = _dense_set(trace, dense_layers)
    dens = _layer_densities(trace, ws, as_, dense, densities)
    groups, uncounted = _group(trace)

    layers: list[LayerCount] = []
    for (name, typ, op_class), costs in groups.items():
        dw, da = dens.get(name, (1.0, 1.0)) if op_class in GEMM_CLASSES else (1.0, 1.0)
        sparsified = op_class in GEMM_CLASSES and name in dens and (dw < 1.0 or da < 1.0)
        d = _sum_flops(costs)
        layers.append(LayerCount(name, typ, op_class, d, _scaled(d, dw, da) if sparsified else dict(d),
                                 row_bytes(costs, e, sparsified=sparsified, dw=dw, da=da), dw, da, sparsified,
                                 gemm=tuple(c.gemm for c in costs if c.gemm is not None)))
        if sparsified:
            w = sum(c.weights for c in costs) if dw < 1.0 else 0
            x = sum(c.inputs for c in costs) if da < 1.0 else 0
            (cw, kw), (cx, kx) = topk_counts(w, dw), topk_counts(x, da)
            cw, kw, w = _per_step(cw, w_every), _per_step(kw, w_every), _per_step(w, w_every)
            cx, kx, x = _per_step(cx, x_every), _per_step(kx, x_every), _per_step(x, x_every)
            zero = {p: 0 for p in PHASES}
            for tk in (Cost("topk", forward=cw + cx, weights=w, inputs=x, label="topk"),
                       Cost("topk_kept", forward=kw + kx, weights=kw, inputs=kx, label="topk_kept")):
                layers.append(LayerCount(name, tk.label or "topk", tk.op_class, zero, tk.flops(),
                                         row_bytes([tk], e, sparsified=True, dw=dw, da=da), dw, da, True))
    loss = cross_entropy_cost(trace.output_shape)
    layers.append(LayerCount("<loss>", loss.label or "cross_entropy", "elementwise", loss.flops(), loss.flops(),
                             row_bytes([loss], e, sparsified=False, dw=1.0, da=1.0)))
    upd = optimizer_cost(opt.name, trace.trainable_params)
    layers.append(LayerCount("<optimizer>", opt.name, "optimizer", upd.flops(), upd.flops(),
                             row_bytes([upd], e, sparsified=False, dw=1.0, da=1.0, buffers=opt.buffers)))
    layers = _with_launches(layers, trace, opt.name, grad_reset, e)
    return FlopReport(model=trace.model, batch_size=trace.batch_size, input_shape=trace.input_shape,
                      weight_sparsity=ws, activation_sparsity=as_, dtype=str(dtype).replace("torch.", ""),
                      optimizer=opt.name, dense_layers=dense, layers=layers, uncounted=uncounted,
                      method=trace.method)


def count_training_step(model: nn.Module, input_shape: Sequence[int], batch_size: int, *,
                        densities: Densities | None = None, weight_sparsity: float = 0.0,
                        activation_sparsity: float | None = None, dense_layers: Sequence[str] | None = None,
                        dtype: str = "float32", num_classes: int | None = None, optimizer: str = "sgd",
                        model_name: str | None = None, grad_reset: str = "none") -> FlopReport:
    """FLOPs and bytes of one SGD step (forward + backward + update) per layer and phase, dense and SWAT."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise BadInputError(f"batch size must be a positive integer, got {batch_size!r}")
    trace = trace_model(model, tuple(input_shape), batch_size, name=model_name)
    return count_from_trace(trace, densities=densities, weight_sparsity=weight_sparsity,
                            activation_sparsity=activation_sparsity, dense_layers=dense_layers, dtype=dtype,
                            num_classes=num_classes, optimizer=optimizer, grad_reset=grad_reset)
