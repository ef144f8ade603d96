"""RUN_DIR/layers.json as a typed document: the FLOP counter's table of one training step.

Read and validated once here (``read_layers_doc``), so costing and summaries never parse the
JSON themselves and never guess a row's op class: the counter stores it (``vocab.OP_CLASSES``).
Keys the schema does not name (the counter's derived totals, ``uncounted``) are kept verbatim in
``raw`` and written back unchanged; every key it names is checked for type and range, and a
violation is one line naming the file, the row and the field.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import BadInputError, TraceFormatError
from ..vocab import OP_CLASSES, STEP_PHASES
from .schema import LAYERS_FILE


@dataclass(frozen=True)
class Traffic:
    """Bytes one row reads and writes in one phase."""

    read: float = 0.0
    written: float = 0.0


@dataclass(frozen=True)
class RowBytes:
    """A row's sizes (bytes of weights, input and output activations) and its traffic by phase."""

    dtype_bytes: float = 0.0
    weights: float = 0.0
    input: float = 0.0
    output: float = 0.0
    dense: Mapping[str, Traffic] = field(default_factory=dict)
    sparse: Mapping[str, Traffic] = field(default_factory=dict)
    weights_encoded: Mapping[str, float] = field(default_factory=dict)

    def moved(self, phase: str, kind: str = "dense") -> float:
        """Read + written bytes of one phase (0 where the counter gives none)."""
        t = (self.dense if kind == "dense" else self.sparse).get(phase)
        return 0.0 if t is None else t.read + t.written


@dataclass(frozen=True)
class LayerRow:
    """One row: a module (or ``<loss>``/``<optimizer>``/a top-k row), its op class, FLOPs by phase, bytes."""

    name: str
    type: str
    op_class: str
    dense: Mapping[str, float]
    sparse: Mapping[str, float]
    bytes: RowBytes = field(default_factory=RowBytes)
    sparsified: bool = False
    weight_density: float | None = None
    activation_density: float | None = None
    launches: Mapping[str, float] | None = None  # aten ops dispatched per phase; None = not counted

    @property
    def phases(self) -> tuple[str, ...]:
        """Phases with a count in either block, in STEP_PHASES order."""
        return tuple(p for p in STEP_PHASES if p in self.dense or p in self.sparse)


@dataclass(frozen=True)
class LayersDoc:
    """The whole document: the step it describes and its rows."""

    layers: tuple[LayerRow, ...]
    model: str | None = None
    batch_size: int | None = None
    input_shape: tuple[int, ...] | None = None
    weight_sparsity: float | None = None
    activation_sparsity: float | None = None
    dtype: str | None = None
    optimizer: str | None = None
    dense_layers: tuple[str, ...] | None = None
    method: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Any, source: str = LAYERS_FILE) -> "LayersDoc":
        """Validate a parsed document; ``source`` names it in errors (a path, or ``flops``)."""
        return _parse(obj, source)

    def to_json(self) -> dict[str, Any]:
        """The document as the counter wrote it (what RUN_DIR/layers.json holds)."""
        return dict(self.raw)

    def to_text(self) -> str:
        """The file's text."""
        return json.dumps(self.to_json(), indent=1, allow_nan=False) + "\n"


def read_layers_doc(path: str | os.PathLike[str]) -> LayersDoc:
    """Read and validate RUN_DIR/layers.json (or the run directory holding it)."""
    p = Path(path)
    if p.is_dir():
        p = p / LAYERS_FILE
    if not p.is_file():
        raise BadInputError(f"no such file: {p}")
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except RecursionError:
        raise TraceFormatError(f"{p}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise TraceFormatError(f"{p}: not valid JSON ({exc})") from None
    return _parse(obj, str(p))


# ----------------------------------------------------------------------------- validation
class _Ctx:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> TraceFormatError:
        return TraceFormatError(f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}")

    def number(self, v: Any, where: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise self.fail(where, f"must be a non-negative finite number, got {v!r}")
        return float(v)

    def opt_number(self, v: Any, where: str) -> float | None:
        return None if v is None else self.number(v, where)

    def opt_str(self, v: Any, where: str) -> str | None:
        if v is not None and not isinstance(v, str):
            raise self.fail(where, f"must be a string, got {v!r}")
        return v

    def mapping(self, v: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(v, Mapping):
            raise self.fail(where, f"must be an object, got {type(v).__name__}")
        return v


def _phase_counts(ctx: _Ctx, v: Any, where: str) -> dict[str, float]:
    m = ctx.mapping(v, where)
    out: dict[str, float] = {}
    for k, n in m.items():
        if k == "total":  # a derived sum some writers add; recomputed where needed
            continue
        if k not in STEP_PHASES:
            raise ctx.fail(f"{where}.{k}", f"is not a phase ({', '.join(STEP_PHASES)})")
        out[k] = ctx.number(n, f"{where}.{k}")
    return out


def _traffic(ctx: _Ctx, v: Any, where: str) -> dict[str, Traffic]:
    out: dict[str, Traffic] = {}
    for k, t in ctx.mapping(v, where).items():
        if k not in STEP_PHASES:
            raise ctx.fail(f"{where}.{k}", f"is not a phase ({', '.join(STEP_PHASES)})")
        t = ctx.mapping(t, f"{where}.{k}")
        out[k] = Traffic(ctx.number(t.get("read", 0), f"{where}.{k}.read"),
                         ctx.number(t.get("written", 0), f"{where}.{k}.written"))
    return out


def _row_bytes(ctx: _Ctx, v: Any, where: str) -> RowBytes:
    if v is None:
        return RowBytes()
    b = ctx.mapping(v, where)
    enc = {k: ctx.number(n, f"{where}.weights_encoded.{k}")
           for k, n in ctx.mapping(b.get("weights_encoded", {}), f"{where}.weights_encoded").items()}
    return RowBytes(
        dtype_bytes=ctx.number(b.get("dtype_bytes", 0), f"{where}.dtype_bytes"),
        weights=ctx.number(b.get("weights", 0), f"{where}.weights"),
        input=ctx.number(b.get("input", 0), f"{where}.input"),
        output=ctx.number(b.get("output", 0), f"{where}.output"),
        dense=_traffic(ctx, b.get("dense", {}), f"{where}.dense"),
        sparse=_traffic(ctx, b.get("sparse", {}), f"{where}.sparse"),
        weights_encoded=enc)


def _row(ctx: _Ctx, i: int, v: Any) -> LayerRow:
    where = f"layers[{i}]"
    r = ctx.mapping(v, where)
    for key in ("name", "type", "op_class", "dense"):
        if key not in r:
            raise ctx.fail("", f"{where} lacks {key!r}" if key != "name" else f"{where} lacks a name")
    name, typ, oc = r["name"], r["type"], r["op_class"]
    if not isinstance(name, str) or not name:
        raise ctx.fail(f"{where}.name", f"must be a non-empty string, got {name!r}")
    if not isinstance(typ, str):
        raise ctx.fail(f"{where}.type", f"must be a string, got {typ!r}")
    if oc not in OP_CLASSES:
        raise ctx.fail(f"{where}.op_class", f"is not an op class ({', '.join(OP_CLASSES)}), got {oc!r}")
    dense = _phase_counts(ctx, r["dense"], f"{where}.dense")
    sparse = _phase_counts(ctx, r["sparse"], f"{where}.sparse") if "sparse" in r else dict(dense)
    sparsified = r.get("sparsified", False)
    if not isinstance(sparsified, bool):
        raise ctx.fail(f"{where}.sparsified", f"must be true or false, got {sparsified!r}")
    dens = ctx.mapping(r.get("density", {}), f"{where}.density")
    launches = _phase_counts(ctx, r["launches"], f"{where}.launches") if "launches" in r else None
    return LayerRow(name, typ, oc, dense, sparse, _row_bytes(ctx, r.get("bytes"), f"{where}.bytes"), sparsified,
                    ctx.opt_number(dens.get("weight"), f"{where}.density.weight"),
                    ctx.opt_number(dens.get("activation"), f"{where}.density.activation"), launches)


def _parse(obj: Any, source: str) -> LayersDoc:
    ctx = _Ctx(source)
    if not isinstance(obj, Mapping):
        raise ctx.fail("", "expected a JSON object with 'layers'")
    rows = obj.get("layers")
    if not isinstance(rows, list):
        raise ctx.fail("layers", "must be a list of rows")
    layers = tuple(_row(ctx, i, r) for i, r in enumerate(rows))
    bs = obj.get("batch_size")
    if bs is not None and (isinstance(bs, bool) or not isinstance(bs, int) or bs < 1):
        raise ctx.fail("batch_size", f"must be a positive integer, got {bs!r}")
    shape = obj.get("input_shape")
    if shape is not None and (not isinstance(shape, list)
                              or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise ctx.fail("input_shape", f"must be a list of positive integers, got {shape!r}")
    dl = obj.get("dense_layers")
    if dl is not None and (not isinstance(dl, list) or not all(isinstance(s, str) for s in dl)):
        raise ctx.fail("dense_layers", f"must be a list of layer names, got {dl!r}")
    ws = ctx.opt_number(obj.get("weight_sparsity"), "weight_sparsity")
    as_ = ctx.opt_number(obj.get("activation_sparsity"), "activation_sparsity")
    for key, v in (("weight_sparsity", ws), ("activation_sparsity", as_)):
        if v is not None and v > 1:
            raise ctx.fail(key, f"must be in [0, 1], got {v!r}")
    return LayersDoc(
        layers=layers, model=ctx.opt_str(obj.get("model"), "model"), batch_size=bs,
        input_shape=None if shape is None else tuple(shape), weight_sparsity=ws, activation_sparsity=as_,
        dtype=ctx.opt_str(obj.get("dtype"), "dtype"), optimizer=ctx.opt_str(obj.get("optimizer"), "optimizer"),
        dense_layers=None if dl is None else tuple(dl), method=ctx.opt_str(obj.get("method"), "method"),
        raw=dict(obj))


__all__ = ["LayerRow", "LayersDoc", "RowBytes", "Traffic", "read_layers_doc"]
