"""One training step's work as rows (layer x phase) the cost model can price, from either source.

* ``from_layers(doc)``: the run's ``LayersDoc`` (RUN_DIR/layers.json, the ``flops --json``
  document): one row per layer and phase with its dense and sparse FLOPs, bytes moved and the op
  class the counter stored; kernels = one per non-zero row; the top-k mask work of the sparsified layers is derived from their weight and input sizes.
* ``from_totals()``: only the trace's per-phase totals are known: one row per phase priced
  compute-only (no bytes, no per-kernel overhead, no top-k), and the output says so.

This module reads typed documents (no torch), so estimates never need the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..hardware_models.cost import PHASE_CLASS, PHASES, MemoryEstimate, class_index
from ..traces.layers import LayersDoc
from ..vocab import GEMM_CLASSES, GEMM_PHASES, TOPK_CLASSES, UPLOADS, kept_count

#: Top-k mask cost per element of a tensor that is top-k'd (assumptions, see docs/devices.md):
TOPK_OPS_PER_ELEMENT = 8.0  # a few radix/selection passes: compare + count per element and pass
TOPK_BYTE_PASSES = 3.0  # read values twice (select, then mask) and write the masked tensor
TOPK_KERNELS_PER_TENSOR = 3.0  # select, build mask, apply mask
FP32_BYTES = 4.0



@dataclass(frozen=True)
class StepProfile:
    """Rows of one training step (dense and sparse FLOPs, bytes, kernels, op class, phase).

    ``topk_*`` rows are sparse-only work (the top-k mask selection): they cost nothing in a
    dense step and are priced at their own FLOPs and bytes in a sparse step.
    """

    basis: str
    row_names: tuple[str, ...]
    row_phase: np.ndarray
    row_class: np.ndarray
    flops_dense: np.ndarray
    flops_sparse: np.ndarray
    nbytes: np.ndarray
    kernels: np.ndarray
    topk_flops: np.ndarray = field(default_factory=lambda: np.zeros(0))
    topk_bytes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    topk_kernels: np.ndarray = field(default_factory=lambda: np.zeros(0))
    memory: MemoryEstimate | None = None
    topk_class: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # empty = all topk
    notes: tuple[str, ...] = ()

    @property
    def topk_classes(self) -> np.ndarray:
        """Op-class index of each top-k row (``topk`` selection or ``topk_kept`` per kept entry)."""
        if len(self.topk_class) == len(self.topk_flops):
            return self.topk_class
        return np.full(len(self.topk_flops), class_index("topk"), dtype=np.int64)

    def phase_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum a per-row array into per-phase totals (len(PHASES),) or (D, len(PHASES))."""
        values = np.asarray(values, dtype=np.float64)
        onehot = np.zeros((len(self.row_phase), len(PHASES)))
        onehot[np.arange(len(self.row_phase)), self.row_phase] = 1.0
        return values @ onehot

    @property
    def dense_phase_flops(self) -> np.ndarray:
        """Dense FLOPs per phase of one step."""
        return self.phase_sum(self.flops_dense)

    @property
    def sparse_phase_flops(self) -> np.ndarray:
        """Sparse FLOPs per phase of one step."""
        return self.phase_sum(self.flops_sparse)


#: layers.json phase -> (trace phase, op class) per row op class; ``update`` is the optimizer's phase.
def _target(kind: str, phase: str) -> tuple[str, str]:
    if kind in GEMM_CLASSES and phase in GEMM_PHASES:
        return phase, kind
    if kind == "optimizer":
        return "optimizer", "optimizer"
    return "elementwise", kind if kind not in GEMM_CLASSES else "elementwise"


def from_layers(doc: LayersDoc | Mapping[str, Any], *, optimizer_state_factor: float | None = None,
                mask_every: int = 1) -> StepProfile:
    """Rows from the run's layers document (RUN_DIR/layers.json, validated by traces.layers; a
    ``flops --json`` mapping is validated into one first).

    Each row's phases become cost rows with the bytes the counter gives for that phase (dense
    traffic: the roofline prices the dense kernels and the sparse-efficiency factor does the
    rest); each row's op class is the one the counter stored. Top-k rows (``vocab.TOPK_CLASSES``)
    become sparse-only rows; a document without them but with sparsified layers gets top-k rows
    derived from the layers' weight and input sizes (TOPK_* constants; weights re-masked every
    ``mask_every`` steps).
    """
    if not isinstance(doc, LayersDoc):
        doc = LayersDoc.from_json(doc, source="flops document")
    names: list[str] = []
    phase: list[int] = []
    cls: list[int] = []
    fd: list[float] = []
    fs: list[float] = []
    nb: list[float] = []
    tk_f: list[float] = []
    tk_b: list[float] = []
    tk_k: list[float] = []
    tk_c: list[int] = []
    derived_f: list[float] = []
    derived_b: list[float] = []
    derived_k: list[float] = []
    weights_bytes = acts_bytes = 0.0
    for row in doc.layers:
        kind, b = row.op_class, row.bytes
        phases = row.phases
        if kind in TOPK_CLASSES:
            f = sum(row.sparse.get(k, 0.0) for k in phases)
            moved = sum(b.moved(k, "sparse") for k in phases)
            if f or moved:
                tk_c.append(class_index(kind))
                tk_f.append(f)
                tk_b.append(moved)
                tk_k.append(float(sum(1 for k in phases if row.sparse.get(k, 0.0) or b.moved(k, "sparse"))))
            continue
        if kind != "optimizer":
            weights_bytes += b.weights
            acts_bytes += b.output
        for k in phases:
            f_d = row.dense.get(k, 0.0)
            f_s = row.sparse.get(k, f_d)
            moved = b.moved(k, "dense")
            if f_d == 0 and f_s == 0 and moved == 0:
                continue
            ph, oc = _target(kind, k)
            names.append(f"{row.name}:{k}")
            phase.append(PHASES.index(ph))
            cls.append(class_index(oc))
            fd.append(f_d)
            fs.append(min(f_s, f_d) if f_d else f_s)
            nb.append(moved)
        if kind in GEMM_CLASSES and (row.sparsified or row.sparse.get("forward", 0.0) < row.dense.get("forward", 0.0)):
            elem = max(1.0, b.dtype_bytes or FP32_BYTES)
            n = b.weights / elem / max(1, mask_every) + b.input / elem
            derived_f.append(TOPK_OPS_PER_ELEMENT * n)
            derived_b.append(TOPK_BYTE_PASSES * FP32_BYTES * n)
            derived_k.append(TOPK_KERNELS_PER_TENSOR * (1.0 / max(1, mask_every) + 1.0))
    notes = ["basis: per-layer roofline from layers.json"]
    if tk_f:
        notes.append("top-k mask cost from the counter's top-k rows")
    elif derived_f:
        tk_f, tk_b, tk_k = derived_f, derived_b, derived_k
        tk_c = [class_index("topk")] * len(tk_f)
        notes.append("top-k mask cost derived from the sparsified layers' weight and input sizes")
    memory = None
    opt = (doc.optimizer or "sgd").lower().replace("-", "_")
    factor = optimizer_state_factor if optimizer_state_factor is not None else OPTIMIZER_STATE.get(opt, 1.0)
    if weights_bytes > 0:
        memory = MemoryEstimate(weights_bytes, weights_bytes, factor * weights_bytes, acts_bytes)
    kern = (np.array(fd) > 0) | (np.array(fs) > 0) | (np.array(nb) > 0)
    return StepProfile(
        basis="layers", row_names=tuple(names), row_phase=np.array(phase, dtype=np.int64),
        row_class=np.array(cls, dtype=np.int64), flops_dense=np.array(fd, dtype=np.float64),
        flops_sparse=np.array(fs, dtype=np.float64), nbytes=np.array(nb, dtype=np.float64),
        kernels=kern.astype(np.float64), topk_flops=np.array(tk_f, dtype=np.float64),
        topk_bytes=np.array(tk_b, dtype=np.float64), topk_kernels=np.array(tk_k, dtype=np.float64),
        memory=memory, notes=tuple(notes), topk_class=np.array(tk_c, dtype=np.int64))


#: Optimizer state in units of the weights' size, keyed by the FLOP counter's optimizer names
#: (zerofl_profiler.flops.training.OPTIMIZERS): plain SGD keeps none, momentum one buffer, Adam two.
OPTIMIZER_STATE = {"sgd": 0.0, "sgd_wd": 0.0, "sgd_momentum": 1.0, "sgd_momentum_wd": 1.0,
                   "sgd_nesterov": 1.0, "adam": 2.0, "adamw": 2.0, "none": 0.0}


def from_totals() -> StepProfile:
    """One unit row per phase: the trace's own per-phase FLOPs become the scale (compute-only)."""
    n = len(PHASES)
    return StepProfile(
        basis="totals", row_names=PHASES, row_phase=np.arange(n, dtype=np.int64),
        row_class=np.array([class_index(PHASE_CLASS[p]) for p in PHASES], dtype=np.int64),
        flops_dense=np.ones(n), flops_sparse=np.ones(n), nbytes=np.zeros(n), kernels=np.zeros(n),
        notes=("basis: trace totals (no layers.json): compute-only roofline per phase, "
               "no memory-bound rows, no per-kernel overhead, no top-k cost",))


def upload_bytes(tensors: Mapping[str, tuple[int, int]], gemm_weights: set[str] | frozenset[str], *,
                 sparsity: float, upload: str = "dense", encoding: str = "csr", mask_ratio: float = 0.0) -> int:
    """Bytes of one client upload: GEMM weights top-k'd and encoded, everything else dense.

    ``tensors`` maps a state name to (numel, bytes per element). The kept fraction of a GEMM
    weight is min(1, 1 - sparsity + mask_ratio), kept as ``vocab.kept_count`` rounds it: what the
    engine uploads (upload kinds: ``vocab.UPLOADS``).
    """
    from ..encoding import encoded_nbytes
    from ..errors import BadInputError

    if upload not in UPLOADS:
        raise BadInputError(f"unknown --upload {upload!r}; known: {', '.join(UPLOADS)}")
    if upload == "dense" and mask_ratio:
        raise BadInputError("--mask-ratio only applies to top-k uploads, not --upload dense")
    keep = min(1.0, 1.0 - sparsity + mask_ratio)
    total = 0
    for name, (numel, elem) in tensors.items():
        if upload != "dense" and name in gemm_weights:
            nnz = kept_count(numel, keep)
            total += encoded_nbytes(numel, nnz, encoding, elem)
        else:
            total += numel * elem
    return int(total)
