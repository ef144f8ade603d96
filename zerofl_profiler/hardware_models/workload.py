"""The workload a price is computed from: one training step as rows, and client-rounds as columns.

* :class:`StepProfile` is one training step at the counted (reference) batch size, row by row
  (layer x phase): dense and sparse FLOPs, bytes, kernels (1 per row with work), launches (the aten
  ops eager PyTorch dispatches for the row, from the counter's ``launches``; a document without
  them: the kernels), op class, plus what of each row does
  not grow with the batch, so :meth:`StepProfile.at_batch` gives the same step at any batch
  actually run. Built by ``from_layers(doc)`` from a ``flops --json`` document
  (= RUN_DIR/layers.json) or by ``from_totals()`` when only the trace's per-phase totals exist
  (compute-only rows, said in the output).
* :class:`ClientRounds` is N client-rounds as numpy columns: per-phase FLOPs, bytes up/down and
  the batches each one ran (as (record, batch size, count) triplets).

Batch scaling (what flops/bytes.py counts): every FLOP except the optimizer update is
proportional to the batch; of a row's bytes, the weight traffic (forward read, GEMM
backward_input read, backward_weight write, the whole update) is fixed and the rest proportional;
a top-k row splits like its layer's weight : input sizes (the weight mask is batch-independent,
the activation mask is not). Plain dicts and numpy only (no torch).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from ..errors import TraceFormatError
from ..vocab import GEMM_CLASSES, GEMM_PHASES, TOPK_CLASSES
from .gemm_algorithms import GemmShape
from .records import OP_CLASSES, PHASE_CLASS, PHASES
from .results import MemoryEstimate

#: Top-k mask cost per element of a tensor that is top-k'd (assumptions, see docs/devices.md):
TOPK_OPS_PER_ELEMENT = 8.0  # a few radix/selection passes: compare + count per element and pass
TOPK_BYTE_PASSES = 3.0  # read values twice (select, then mask) and write the masked tensor
TOPK_KERNELS_PER_TENSOR = 3.0  # select, build mask, apply mask
FP32_BYTES = 4.0

_WEIGHT_KEYS = ("weights", "weight", "params", "parameters")
_INPUT_KEYS = ("input", "inputs", "input_activations", "activation_in")
_OUTPUT_KEYS = ("output", "outputs", "output_activations", "activation_out", "activations")
#: Row kinds that are GEMM layers (their phases are the trace's forward/backward_* phases).
GEMM_KINDS = GEMM_CLASSES
#: Optimizer state in units of the weights' size, keyed by the FLOP counter's optimizer names
#: (zerofl_profiler.flops.training.OPTIMIZERS): plain SGD keeps none, momentum one buffer, Adam two
#: (RMSprop with momentum: square average and momentum buffer).
OPTIMIZER_STATE = {"sgd": 0.0, "sgd_wd": 0.0, "sgd_momentum": 1.0, "sgd_momentum_wd": 1.0,
                   "sgd_nesterov": 1.0, "adam": 2.0, "adamw": 2.0, "adadelta": 2.0,
                   "rmsprop_momentum_wd": 2.0, "none": 0.0}


def class_index(op_class: str) -> int:
    """Index of an op class in OP_CLASSES."""
    return OP_CLASSES.index(op_class)


@dataclass(frozen=True)
class StepRows:
    """One step's rows at one batch size: the plain numbers the roofline prices."""

    row_phase: np.ndarray
    row_class: np.ndarray
    flops_dense: np.ndarray
    flops_sparse: np.ndarray
    nbytes: np.ndarray
    kernels: np.ndarray
    topk_flops: np.ndarray
    topk_bytes: np.ndarray
    topk_kernels: np.ndarray
    topk_class: np.ndarray
    launches: np.ndarray | None = None  # per row: dispatched aten ops; None = the kernels
    gemm: tuple[tuple[GemmShape, ...], ...] = ()  # per row: its dense GEMM shapes at this batch; () = none known

    @property
    def row_launches(self) -> np.ndarray:
        """Dispatched aten ops per row (the kernels, one per row with work, where none were counted)."""
        return self.launches if self.launches is not None and len(self.launches) == len(self.kernels) \
            else self.kernels


def _empty() -> np.ndarray:
    return np.zeros(0)


@dataclass(frozen=True)
class StepProfile:
    """Rows of one training step at ``reference_batch`` (None: rows do not scale with the batch).

    ``topk_*`` rows are sparse-only work (the top-k mask selection): they cost nothing in a
    dense step and are priced at their own FLOPs and bytes in a sparse step. ``fixed_*`` say
    what of each row does not grow with the batch (module docstring).
    """

    basis: str
    row_names: tuple[str, ...]
    row_phase: np.ndarray
    row_class: np.ndarray
    flops_dense: np.ndarray
    flops_sparse: np.ndarray
    nbytes: np.ndarray
    kernels: np.ndarray
    topk_flops: np.ndarray = field(default_factory=_empty)
    topk_bytes: np.ndarray = field(default_factory=_empty)
    topk_kernels: np.ndarray = field(default_factory=_empty)
    memory: MemoryEstimate | None = None
    topk_class: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # empty = all topk
    notes: tuple[str, ...] = ()
    reference_batch: float | None = None
    fixed_flops: np.ndarray = field(default_factory=_empty)  # bool per row; empty = none fixed
    fixed_bytes: np.ndarray = field(default_factory=_empty)  # bytes per row; empty = none fixed
    topk_batch_share: np.ndarray = field(default_factory=_empty)  # per top-k row; empty = all batch-fixed
    launches: np.ndarray = field(default_factory=_empty)  # per row; empty = the kernels (one per row)
    gemm: tuple[tuple[GemmShape, ...], ...] = ()  # per row: dense GEMM shapes at reference_batch; () = none

    @property
    def row_launches(self) -> np.ndarray:
        """Dispatched aten ops per row (the kernels, one per row with work, where none were counted)."""
        return self.launches if len(self.launches) == len(self.kernels) else self.kernels

    def gemm_at(self, r: float) -> tuple[tuple[GemmShape, ...], ...]:
        """The rows' GEMM shapes with the batch-proportional ``rows`` scaled by ``r``."""
        if r == 1.0 or not self.gemm:
            return self.gemm
        return tuple(tuple(GemmShape(s.kind, max(1, int(round(s.rows * r))), s.inner, s.outputs) for s in row)
                     for row in self.gemm)

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
        """Dense FLOPs per phase of one step at the reference batch."""
        return self.phase_sum(self.flops_dense)

    @property
    def sparse_phase_flops(self) -> np.ndarray:
        """Sparse FLOPs per phase of one step at the reference batch."""
        return self.phase_sum(self.flops_sparse)

    def ratio(self, batch: float) -> float:
        """Batch size relative to the counted one (1 when the rows do not scale)."""
        return 1.0 if not self.reference_batch else float(batch) / float(self.reference_batch)

    def at_batch(self, batch: float) -> StepRows:
        """The step at another batch size (module docstring: what scales and what is fixed)."""
        r = self.ratio(batch)
        n = len(self.flops_dense)
        fixed_f = self.fixed_flops.astype(bool) if len(self.fixed_flops) == n else np.zeros(n, dtype=bool)
        fixed_b = self.fixed_bytes if len(self.fixed_bytes) == n else np.zeros(n)
        t = len(self.topk_flops)
        share = self.topk_batch_share if len(self.topk_batch_share) == t else np.zeros(t)
        if r == 1.0:
            return StepRows(self.row_phase, self.row_class, self.flops_dense, self.flops_sparse, self.nbytes,
                            self.kernels, self.topk_flops, self.topk_bytes, self.topk_kernels, self.topk_classes,
                            self.row_launches, self.gemm)
        tk = (1.0 - share) + share * r
        return StepRows(self.row_phase, self.row_class,
                        np.where(fixed_f, self.flops_dense, self.flops_dense * r),
                        np.where(fixed_f, self.flops_sparse, self.flops_sparse * r),
                        fixed_b + (self.nbytes - fixed_b) * r, self.kernels,
                        self.topk_flops * tk, self.topk_bytes * tk, self.topk_kernels, self.topk_classes,
                        self.row_launches, self.gemm_at(r))

    def memory_at(self, batch: float) -> MemoryEstimate | None:
        """Peak memory with the saved activations of ``batch`` samples."""
        if self.memory is None:
            return None
        m = self.memory
        r = self.ratio(batch)
        return m if r == 1.0 else MemoryEstimate(m.weights_bytes, m.gradients_bytes, m.optimizer_bytes,
                                                 m.activations_bytes * r)


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


def _first(d: Mapping[str, Any], keys: tuple[str, ...]) -> float:
    for k in keys:
        if k in d:
            return _num(d[k])
    return 0.0


def _row_kind(row: Mapping[str, Any]) -> str:
    """The op class of a layers.json row, as the FLOP counter stored it (never guessed from names)."""
    oc = row.get("op_class")
    if oc not in OP_CLASSES:
        raise TraceFormatError(f"layers document row {row.get('name')!r}: op_class must be one of "
                               f"{', '.join(OP_CLASSES)}, got {oc!r}")
    return str(oc)


def _phase_bytes(bblock: Any, phase: str, kind: str = "dense") -> float:
    """Bytes a row moves in one phase: read + written from the counter's breakdown."""
    if not isinstance(bblock, Mapping):
        return 0.0
    per = bblock.get(kind)
    if isinstance(per, Mapping) and isinstance(per.get(phase), Mapping):
        return _num(per[phase].get("read")) + _num(per[phase].get("written"))
    if isinstance(bblock.get(phase), (int, float)):
        return _num(bblock[phase])
    return 0.0


def _weight_bytes(kind: str, phase: str, weights: float, total: float) -> float:
    """The batch-independent (weight) bytes of a row's phase, as flops/bytes.py counts them."""
    if kind == "optimizer" or phase == "update":
        return total
    per = {"forward": 1.0, "backward_input": 1.0 if kind in GEMM_KINDS else 0.0, "backward_weight": 1.0}
    return min(total, per.get(phase, 0.0) * weights) if total > 0 else 0.0


def _target(kind: str, phase: str) -> tuple[str, str]:
    """layers.json phase -> (trace phase, op class) per row kind; ``update`` is the optimizer's phase."""
    if kind in GEMM_KINDS and phase in GEMM_PHASES:
        return phase, kind
    if kind == "optimizer":
        return "optimizer", "optimizer"
    return "elementwise", kind if kind not in GEMM_KINDS else "elementwise"


def _gemm_shapes(row: Mapping[str, Any], idx: int) -> tuple[GemmShape, ...]:
    """A GEMM row's ``gemm`` list (the counter's dense product shapes); () when the document has none."""
    raw = row.get("gemm")
    if raw is None:
        return ()
    where = f"layers document row {row.get('name', idx)!r}: gemm"
    if not isinstance(raw, list):
        raise TraceFormatError(f"{where} must be a list of {{kind, rows, inner, outputs}}")
    out = []
    for g in raw:
        if not isinstance(g, Mapping) or g.get("kind") not in ("conv", "matmul"):
            raise TraceFormatError(f"{where}: each entry needs kind 'conv' or 'matmul', got {g!r}")
        dims = [g.get(k) for k in ("rows", "inner", "outputs")]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in dims):
            raise TraceFormatError(f"{where}: rows, inner and outputs must be positive integers, got {g!r}")
        out.append(GemmShape(str(g["kind"]), *dims))
    return tuple(out)


class JsonDocument(Protocol):
    """A typed document that can give back its JSON form (traces.layers.LayersDoc does)."""

    def to_json(self) -> dict[str, Any]: ...


def from_layers(doc: Mapping[str, Any] | JsonDocument, *, optimizer_state_factor: float | None = None,
                mask_every: int = 1) -> StepProfile:
    """Rows from a `flops --json` document (RUN_DIR/layers.json).

    Each row's phases become cost rows with the bytes the counter gives for that phase (dense
    traffic: the roofline prices the dense kernels and the sparse-efficiency factor does the
    rest). Top-k rows (op classes ``topk`` and ``topk_kept``) become sparse-only rows; a document
    without them but with sparsified layers gets top-k rows derived from the layers' weight and
    input sizes (TOPK_* constants; weights re-masked every ``mask_every`` steps).
    """
    if not isinstance(doc, Mapping):
        doc = doc.to_json()
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise TraceFormatError("layers document has no 'layers' list")
    names: list[str] = []
    phase: list[int] = []
    cls: list[int] = []
    fd: list[float] = []
    fs: list[float] = []
    nb: list[float] = []
    fixed_f: list[bool] = []
    fixed_b: list[float] = []
    lau: list[float] = []
    counted = False  # whether any row states its launches
    gemm: list[tuple[GemmShape, ...]] = []
    tk_f: list[float] = []
    tk_b: list[float] = []
    tk_k: list[float] = []
    tk_c: list[int] = []
    tk_share: list[float] = []
    derived: list[tuple[float, float, float, float]] = []
    # per GEMM layer name: (weight elements x weight density, input elements x activation density)
    layer_sizes: dict[str, tuple[float, float, float, float]] = {}
    weights_bytes = acts_bytes = 0.0
    pending_topk: list[tuple[str, str, float, float, float]] = []
    for idx, row in enumerate(layers):
        if not isinstance(row, Mapping):
            raise TraceFormatError(f"layers[{idx}] is not an object")
        dense = row.get("dense") or {}
        sparse = row.get("sparse") or dense
        if not isinstance(dense, Mapping) or not isinstance(sparse, Mapping):
            raise TraceFormatError(f"layers[{idx}]: 'dense' and 'sparse' must be objects")
        kind = _row_kind(row)
        bblock = row.get("bytes") or {}
        phases = [k for k in dict.fromkeys(list(dense) + list(sparse)) if k != "total"]
        launches = row.get("launches")
        launches = launches if isinstance(launches, Mapping) else {}
        counted = counted or bool(launches)
        if kind in TOPK_CLASSES:
            f = sum(_num(sparse.get(k)) for k in phases)
            b = sum(_phase_bytes(bblock, k, "sparse") for k in phases)
            if f or b:
                k_n = float(sum(1 for k in phases if _num(sparse.get(k)) or _phase_bytes(bblock, k, "sparse")))
                pending_topk.append((str(row.get("name", idx)), kind, f, b, k_n))
            continue
        shapes = _gemm_shapes(row, idx) if kind in GEMM_KINDS else ()
        w_b = _first(bblock, _WEIGHT_KEYS) if isinstance(bblock, Mapping) else 0.0
        if isinstance(bblock, Mapping) and kind != "optimizer":
            weights_bytes += w_b
            acts_bytes += _first(bblock, _OUTPUT_KEYS)
        for k in phases:
            f_d = _num(dense.get(k))
            f_s = _num(sparse.get(k, f_d))
            b = _phase_bytes(bblock, k, "dense")
            n_l = _num(launches.get(k))
            if f_d == 0 and f_s == 0 and b == 0 and n_l == 0:
                continue
            ph, oc = _target(kind, k)
            names.append(f"{row.get('name', idx)}:{k}")
            phase.append(PHASES.index(ph))
            cls.append(class_index(oc))
            fd.append(f_d)
            fs.append(min(f_s, f_d) if f_d else f_s)
            nb.append(b)
            fixed_f.append(kind == "optimizer" or k == "update")
            fixed_b.append(_weight_bytes(kind, k, w_b, b))
            lau.append(n_l)
            gemm.append(shapes if ph in GEMM_PHASES else ())
        if kind in GEMM_KINDS and isinstance(bblock, Mapping):
            elem = max(1.0, _num(bblock.get("dtype_bytes")) or FP32_BYTES)
            n_w = w_b / elem
            n_x = _first(bblock, _INPUT_KEYS) / elem
            dens = row.get("density") if isinstance(row.get("density"), Mapping) else {}
            layer_sizes[str(row.get("name", idx))] = (n_w, n_x, _num(dens.get("weight", 1.0)) if dens else 1.0,
                                                      _num(dens.get("activation", 1.0)) if dens else 1.0)
            sparsified = bool(row.get("sparsified")) or _num(sparse.get("forward")) < _num(dense.get("forward"))
            if sparsified:
                w_part = n_w / max(1, mask_every)
                derived.append((w_part, n_x, TOPK_KERNELS_PER_TENSOR * (1.0 / max(1, mask_every) + 1.0),
                                n_x / (w_part + n_x) if w_part + n_x > 0 else 0.0))
    for name, kind, f, b, k_n in pending_topk:
        n_w, n_x, dw, da = layer_sizes.get(name, (0.0, 0.0, 1.0, 1.0))
        w_part, x_part = (n_w, n_x) if kind == "topk" else (n_w * dw, n_x * da)
        tk_c.append(class_index(kind))
        tk_f.append(f)
        tk_b.append(b)
        tk_k.append(k_n)
        tk_share.append(x_part / (w_part + x_part) if w_part + x_part > 0 else 0.0)
    notes = ["basis: per-layer roofline from layers.json"]
    if not counted:
        notes.append("layers.json counts no dispatched aten ops (launches): a unit priced per op "
                     "(dispatch_unit = op) is charged one dispatch per row")
    if tk_f:
        notes.append("top-k mask cost from the counter's top-k rows")
    elif derived:
        tk_f = [TOPK_OPS_PER_ELEMENT * (w + x) for w, x, _, _ in derived]
        tk_b = [TOPK_BYTE_PASSES * FP32_BYTES * (w + x) for w, x, _, _ in derived]
        tk_k = [k for _, _, k, _ in derived]
        tk_share = [s for _, _, _, s in derived]
        tk_c = [class_index("topk")] * len(tk_f)
        notes.append("top-k mask cost derived from the sparsified layers' weight and input sizes")
    memory = None
    opt = str(doc.get("optimizer") or "sgd").lower().replace("-", "_")
    factor = optimizer_state_factor if optimizer_state_factor is not None else OPTIMIZER_STATE.get(opt, 1.0)
    if weights_bytes > 0:
        memory = MemoryEstimate(weights_bytes, weights_bytes, factor * weights_bytes, acts_bytes)
    kern = (np.array(fd) > 0) | (np.array(fs) > 0) | (np.array(nb) > 0)
    ref = _num(doc.get("batch_size"))
    return StepProfile(
        basis="layers", row_names=tuple(names), row_phase=np.array(phase, dtype=np.int64),
        row_class=np.array(cls, dtype=np.int64), flops_dense=np.array(fd, dtype=np.float64),
        flops_sparse=np.array(fs, dtype=np.float64), nbytes=np.array(nb, dtype=np.float64),
        kernels=kern.astype(np.float64), topk_flops=np.array(tk_f, dtype=np.float64),
        topk_bytes=np.array(tk_b, dtype=np.float64), topk_kernels=np.array(tk_k, dtype=np.float64),
        memory=memory, notes=tuple(notes), topk_class=np.array(tk_c, dtype=np.int64),
        reference_batch=ref if ref > 0 else None, fixed_flops=np.array(fixed_f, dtype=bool),
        fixed_bytes=np.array(fixed_b, dtype=np.float64), topk_batch_share=np.array(tk_share, dtype=np.float64),
        launches=np.array(lau, dtype=np.float64) if counted else _empty(),
        gemm=tuple(gemm) if any(gemm) else ())


def from_totals() -> StepProfile:
    """One unit row per phase: the trace's own per-phase FLOPs become the scale (compute-only)."""
    n = len(PHASES)
    return StepProfile(
        basis="totals", row_names=PHASES, row_phase=np.arange(n, dtype=np.int64),
        row_class=np.array([class_index(PHASE_CLASS[p]) for p in PHASES], dtype=np.int64),
        flops_dense=np.ones(n), flops_sparse=np.ones(n), nbytes=np.zeros(n), kernels=np.zeros(n),
        notes=("basis: trace totals (no layers.json): compute-only roofline per phase, "
               "no memory-bound rows, no per-kernel overhead, no top-k cost",))


@dataclass(frozen=True)
class ClientRounds:
    """N client-rounds as columns: what was run (FLOPs, batches) and what was sent."""

    rounds: np.ndarray
    client_ids: np.ndarray
    steps: np.ndarray
    fd: np.ndarray  # (N, len(PHASES)) dense FLOPs
    fs: np.ndarray  # (N, len(PHASES)) sparse FLOPs
    bytes_down: np.ndarray
    bytes_up: np.ndarray
    bytes_up_dense: np.ndarray
    batch_sizes: np.ndarray  # (U,) distinct batch sizes run
    batch_record: np.ndarray  # (K,) record of each (record, batch size) pair
    batch_index: np.ndarray  # (K,) index into batch_sizes
    batch_count: np.ndarray  # (K,) how many batches of that size the record ran

    def __len__(self) -> int:
        return int(len(self.rounds))

    def per_record(self, per_batch: np.ndarray) -> np.ndarray:
        """Sum a per-batch-size quantity ((U,) or (U, P)) over every record's batches: (N,) or (N, P)."""
        v = np.asarray(per_batch, dtype=np.float64)
        c = self.counts_matrix()
        if c.shape[1] > 8:
            return c @ v
        out = np.zeros((c.shape[0],) + v.shape[1:])
        for u in range(c.shape[1]):  # a few batch sizes: broadcasting beats a skinny matmul
            out += c[:, u].reshape((-1,) + (1,) * (v.ndim - 1)) * v[u]
        return out

    def counts_matrix(self) -> np.ndarray:
        """(N, U): how many batches of each distinct size each record ran."""
        return self._counts

    @functools.cached_property
    def _counts(self) -> np.ndarray:
        c = np.zeros((len(self), len(self.batch_sizes)))
        c[self.batch_record, self.batch_index] = self.batch_count
        return c

    @property
    def max_batch(self) -> float:
        """The largest batch any record ran (0 when none is recorded)."""
        return float(self.batch_sizes.max()) if len(self.batch_sizes) else 0.0


def batch_triplets(batches: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(distinct sizes, record, size index, count) of every record's list of batch sizes (linear time)."""
    lengths = np.fromiter((len(bs) for bs in batches), dtype=np.int64, count=len(batches))
    size = np.fromiter(itertools.chain.from_iterable(batches), dtype=np.float64, count=int(lengths.sum()))
    rec = np.repeat(np.arange(len(batches), dtype=np.int64), lengths)
    whole = size.astype(np.int64)
    if len(size) and (whole == size).all() and 0 <= whole.min() and whole.max() <= 10**7:
        present = np.bincount(whole) > 0  # batch sizes are small integers: no sort needed
        sizes = np.flatnonzero(present).astype(np.float64)
        inv = (np.cumsum(present) - 1)[whole]
    else:
        sizes, inv = np.unique(size, return_inverse=True)
        inv = inv.reshape(-1)
    n_u = max(1, len(sizes))
    pair_counts = np.bincount(rec * n_u + inv, minlength=len(batches) * n_u)
    pairs = np.flatnonzero(pair_counts)
    return sizes, pairs // n_u, pairs % n_u, pair_counts[pairs]
