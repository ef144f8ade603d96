"""The result of counting one training step: per-row counts, totals and the JSON document.

Totals (``totals`` in JSON and :meth:`FlopReport.trace_flops`) use the trace's FLOP keys:
``forward``/``backward_input``/``backward_weight`` sum the GEMM rows (conv, grouped conv, linear) only;
``elementwise`` sums every phase of every other FLOP row (op classes elementwise, pool, norm:
BN, activations, pooling, residual adds, bias adds, ``<loss>``); ``optimizer`` is the
``<optimizer>`` row; ``total`` is their sum,
so totals include elementwise rows. ``topk`` (the top-k rows: selection comparisons plus kept
entries, see :mod:`.topk`; not FLOPs) is reported on its own and is not part of ``total``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..vocab import FLOP_KEYS, GEMM_PHASES
from .records import GEMM_CLASSES, PHASES, TOPK_CLASSES

KINDS = ("dense", "sparse")


@dataclass(frozen=True)
class LayerCount:
    """One row: a module (or ``<loss>``/``<optimizer>``), its type, op class, FLOPs and bytes."""

    name: str
    type: str
    op_class: str
    dense: dict[str, int]
    sparse: dict[str, int]
    bytes: dict[str, Any]
    weight_density: float = 1.0
    activation_density: float = 1.0
    sparsified: bool = False
    #: aten ops eager PyTorch dispatches for this row, by phase (None: not counted; see count.py)
    launches: dict[str, int] | None = None
    gemm: tuple[tuple[str, int, int, int], ...] = ()  # dense GEMM shapes of the row (kind, rows, inner, outputs)

    def to_json(self) -> dict[str, Any]:
        """The row as it appears in ``layers`` of ``flops --json`` (``gemm`` only on dense GEMM rows)."""
        d = {
            "name": self.name, "type": self.type, "op_class": self.op_class, "sparsified": self.sparsified,
            "density": {"weight": self.weight_density, "activation": self.activation_density},
            "dense": dict(self.dense), "sparse": dict(self.sparse), "bytes": self.bytes,
        }
        if self.launches is not None:
            d["launches"] = dict(self.launches)
        if self.gemm:
            d["gemm"] = [{"kind": k, "rows": r, "inner": i, "outputs": o} for k, r, i, o in self.gemm]
        return d


def _block(layers: list[LayerCount], kind: str) -> dict[str, int]:
    b = {k: 0 for k in FLOP_KEYS}
    b["topk"] = 0
    for row in layers:
        counts = getattr(row, kind)
        if row.op_class in GEMM_CLASSES:
            for p in GEMM_PHASES:
                b[p] += counts[p]
        elif row.op_class == "optimizer":
            b["optimizer"] += sum(counts[p] for p in PHASES)
        elif row.op_class in TOPK_CLASSES:
            b["topk"] += sum(counts[p] for p in PHASES)
        else:
            b["elementwise"] += sum(counts[p] for p in PHASES)
    b["total"] = sum(b[k] for k in FLOP_KEYS if k != "total")
    return b


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 6) if b else None


@dataclass(frozen=True, repr=False)
class FlopReport:
    """FLOPs and bytes of one training step of one model at one batch size and sparsity."""

    model: str
    batch_size: int
    input_shape: tuple[int, ...]
    weight_sparsity: float
    activation_sparsity: float
    dtype: str
    optimizer: str
    dense_layers: tuple[str, ...]
    layers: list[LayerCount]
    uncounted: list[dict[str, Any]] = field(default_factory=list)
    method: str = "meta"

    @property
    def totals(self) -> dict[str, dict[str, int]]:
        """Dense and sparse totals with the trace's FLOP keys (+ ``topk`` comparisons)."""
        return {k: _block(self.layers, k) for k in KINDS}

    def trace_flops(self) -> dict[str, dict[str, int]]:
        """The ``flops`` block of a trace record for this one step (same numbers as ``totals``)."""
        return self.totals

    @property
    def flop_reduction(self) -> float | None:
        """Dense total / sparse total (elementwise and optimizer rows included)."""
        t = self.totals
        return _ratio(t["dense"]["total"], t["sparse"]["total"])

    @property
    def gemm_flop_reduction(self) -> float | None:
        """Dense / sparse FLOPs of the GEMM rows alone (the part SWAT sparsifies)."""
        t = self.totals
        g = {k: sum(t[k][p] for p in GEMM_PHASES) for k in KINDS}
        return _ratio(g["dense"], g["sparse"])

    def __repr__(self) -> str:
        """One line (the per-layer detail is in ``to_json()`` and the ``flops`` table)."""
        t = self.totals
        red = self.flop_reduction
        return (f"FlopReport(model={self.model!r}, batch_size={self.batch_size}, "
                f"weight_sparsity={self.weight_sparsity:g}, layers={len(self.layers)}, "
                f"dense_total={t['dense']['total']:.4g}, sparse_total={t['sparse']['total']:.4g}, "
                f"flop_reduction={'n/a' if red is None else f'{red:.2f}x'}, uncounted={len(self.uncounted)})")

    def layer(self, name: str, type: str | None = None) -> LayerCount:
        """The first row of that name (and type), for tests and tools."""
        for row in self.layers:
            if row.name == name and (type is None or row.type == type):
                return row
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """The ``flops --json`` document (and ``RUN_DIR/layers.json``)."""
        bytes_totals = {}
        for k in KINDS:
            read = sum(r.bytes[k][p]["read"] for r in self.layers for p in PHASES)
            written = sum(r.bytes[k][p]["written"] for r in self.layers for p in PHASES)
            bytes_totals[k] = {"read": read, "written": written}
        return {
            "model": self.model,
            "batch_size": self.batch_size,
            "input_shape": list(self.input_shape),
            "weight_sparsity": self.weight_sparsity,
            "activation_sparsity": self.activation_sparsity,
            "dtype": self.dtype,
            "optimizer": self.optimizer,
            "dense_layers": list(self.dense_layers),
            "layers": [r.to_json() for r in self.layers],
            "totals": self.totals,
            "flop_reduction": self.flop_reduction,
            "gemm_flop_reduction": self.gemm_flop_reduction,
            "bytes_totals": bytes_totals,
            "uncounted": [dict(u) for u in self.uncounted],
            "method": self.method,
        }
