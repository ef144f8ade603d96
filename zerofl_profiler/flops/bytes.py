"""Bytes each row reads and writes per phase, dense and sparse, and its weights under each encoding.

Model (e = bytes per element of ``dtype``; W, X, Y = weight, input-activation and
output-activation elements of the op):

=================  ===============================  ====================
phase              read                             written
=================  ===============================  ====================
forward            (W + X) e                        Y e
backward_input     (Y + W) e  GEMM, (Y + X) e else  X e
backward_weight    (Y + X) e                        W e
update (optim.)    (2 + buffers) P e                (1 + buffers) P e
=================  ===============================  ====================

Max-pool in training also writes one int64 argmax index per output in forward and reads it
(with the output gradient, instead of the input) in backward_input: + 8 I bytes each way.

A backward phase moves nothing when its gradient is not needed (first layer, frozen weights).
Sparse (a sparsified GEMM with weight density dw, activation density da): the weight is read in
CSR form (value + int32 index per kept entry, as ZeroFL counts) in forward and backward_input,
the saved input activation in CSR form in backward_weight; what is written is unchanged. Top-k
rows read the tensor once and write a one-bit-per-entry mask; ``topk_kept`` rows read one int64
index and write one mask byte per kept entry. ``weights_encoded`` is the size of
the row's weights at density dw under every encoding of :mod:`zerofl_profiler.encoding`.
"""

from __future__ import annotations

from typing import Iterable

from ..encoding import ENCODINGS, encoded_nbytes
from ..vocab import kept_count
from .records import GEMM_CLASSES, PHASES, TOPK_CLASSES, Cost

INDEX_BYTES = 8  # int64 indices (max-pool argmax)


def _csr(numel: int, density: float, e: int) -> int:
    return encoded_nbytes(numel, kept_count(numel, density), "csr", e)


def _zero_phases() -> dict[str, dict[str, int]]:
    return {p: {"read": 0, "written": 0} for p in PHASES}


def cost_bytes(c: Cost, e: int, *, sparse: bool = False, dw: float = 1.0, da: float = 1.0,
               buffers: int = 0) -> dict[str, dict[str, int]]:
    """Read/written bytes by phase of one cost (sparse: SWAT operands in CSR form)."""
    out = _zero_phases()
    W, X, Y = c.weights, c.inputs, c.outputs
    if c.op_class == "optimizer":
        out["update"] = {"read": (2 + buffers) * W * e, "written": (1 + buffers) * W * e}
        return out
    if c.op_class == "topk":
        n = c.weights + c.inputs
        if sparse:
            out["forward"] = {"read": n * e, "written": -(-c.weights // 8) + -(-c.inputs // 8)}
        return out
    if c.op_class == "topk_kept":  # weights/inputs = kept entries: read their int64 index, set a mask byte
        k = c.weights + c.inputs
        if sparse:
            out["forward"] = {"read": k * INDEX_BYTES, "written": k}
        return out
    w_read = _csr(W, dw, e) if sparse else W * e
    x_saved = _csr(X, da, e) if sparse else X * e
    gemm = c.op_class in GEMM_CLASSES
    idx = c.index_elems * INDEX_BYTES
    out["forward"] = {"read": w_read + X * e, "written": Y * e + idx}
    if c.needs_input_grad:
        other = w_read if gemm else (idx if idx else X * e)
        out["backward_input"] = {"read": Y * e + other, "written": X * e}
    if c.needs_weight_grad:
        out["backward_weight"] = {"read": Y * e + (x_saved if gemm else X * e), "written": W * e}
    return out


def add_phases(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Sum two read/written-by-phase blocks."""
    return {p: {k: a[p][k] + b[p][k] for k in ("read", "written")} for p in PHASES}


def row_bytes(costs: Iterable[Cost], e: int, *, sparsified: bool, dw: float, da: float,
              buffers: int = 0) -> dict:
    """The ``bytes`` block of one row: sizes, dense and sparse traffic by phase, encoded weights."""
    costs = list(costs)
    dense, sparse = _zero_phases(), _zero_phases()
    for c in costs:
        topk = c.op_class in TOPK_CLASSES
        dense = add_phases(dense, cost_bytes(c, e, buffers=buffers) if not topk else _zero_phases())
        sparse = add_phases(sparse, cost_bytes(c, e, sparse=sparsified or topk, dw=dw, da=da, buffers=buffers))
    costs = [c for c in costs if c.op_class not in TOPK_CLASSES]
    W = sum(c.weights for c in costs)
    return {
        "dtype_bytes": e,
        "weights": W * e,
        "input": sum(c.inputs for c in costs) * e,
        "output": sum(c.outputs for c in costs) * e,
        "dense": dense,
        "sparse": sparse,
        "weights_encoded": {k: encoded_nbytes(W, kept_count(W, dw), k, e) for k in ENCODINGS},
    }
