"""The trace schema: one record per client per round, one per round for the server.

This is the contract between the training engines (in-process and Flower), the measurement
backends, the device models and the reports. It is versioned: a reader refuses any other
``schema_version``. ``trace.schema.json`` beside this file is the same contract as JSON Schema
(tests check that records written here validate against it).

Files in a run directory::

    RUN_DIR/config.toml     full resolved configuration + environment fingerprint
    RUN_DIR/trace.jsonl     ClientRoundRecord, one JSON object per line, appended and flushed
    RUN_DIR/rounds.jsonl    RoundRecord, one per finished round
    RUN_DIR/layers.json     per-layer dense FLOP/byte counts of one training step (flops --json shape)
"""

from __future__ import annotations

import math
import types
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping, Union, get_args, get_origin, get_type_hints

from ..errors import TraceFormatError
from ..vocab import ESTIMATE_SOURCES, FLOP_KEYS, GEMM_PHASES, MEASURED_SOURCES

SCHEMA_VERSION = 1

#: How the energy of a window relates to the client: ``exclusive`` (only this client ran),
#: ``shared`` (other clients ran concurrently on the same counter, e.g. under Ray).
ATTRIBUTIONS = ("exclusive", "shared")
STATUSES = ("ok", "failed")

TRACE_FILE = "trace.jsonl"
ROUNDS_FILE = "rounds.jsonl"
CONFIG_FILE = "config.toml"
LAYERS_FILE = "layers.json"


@dataclass(frozen=True)
class EnergyBlock:
    """Energy of one window: per-domain joules, total, duration, where it came from and why not.

    ``source`` is one of MEASURED_SOURCES (in ``energy``) or ``estimate`` (in ``energy_estimate``).
    ``method`` says how: ``counter`` (hardware energy counter), ``power-sampling`` (integrated
    power readings), ``cpu-time-x-power`` (estimate), ``codecarbon:<mode>``, or ``none``.
    ``skipped`` maps each backend that was not used to the reason.
    ``total_j`` is None when nothing was measured -- never 0 J for "unknown".
    """

    source: str = "none"
    method: str = "none"
    total_j: float | None = None
    domains_j: dict[str, float] = field(default_factory=dict)
    duration_s: float | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    attribution: str = "exclusive"
    emissions_g: float | None = None
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        d = asdict(self)
        d["flags"] = list(self.flags)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EnergyBlock":
        """Build from a JSON dict, rejecting unknown keys."""
        _no_unknown_keys(cls, d, "energy")
        kw = dict(d)
        kw["flags"] = tuple(kw.get("flags", ()))
        kw["domains_j"] = {str(k): float(v) for k, v in dict(kw.get("domains_j", {})).items()}
        kw["skipped"] = {str(k): str(v) for k, v in dict(kw.get("skipped", {})).items()}
        return cls(**kw)

    @staticmethod
    def none(skipped: Mapping[str, str] | None = None) -> "EnergyBlock":
        """The explicit 'nothing measured' block."""
        return EnergyBlock(source="none", method="none", skipped=dict(skipped or {}))


def empty_flops() -> dict[str, int]:
    """A FLOP block with every key present and zero."""
    return {k: 0 for k in FLOP_KEYS}


@dataclass(frozen=True)
class ClientRoundRecord:
    """One client's local training in one round, as both engines write it.

    FLOPs are summed over the batches actually run (a partial last batch counts as what it is).
    ``flops['dense']`` is what the same steps would cost without sparsity; ``flops['sparse']``
    uses the densities measured during those steps. ``densities`` maps a layer's qualified name to
    the mean measured {"weight": dw, "activation": da} over the round's steps (dense layers: 1.0).
    ``bytes_up`` is the size of the encoded upload actually produced; ``bytes_up_dense`` what a
    dense fp32 upload of the same tensors costs; ``bytes_down`` the dense global model.
    """

    run_id: str
    round: int
    client_id: int
    samples: int
    steps: int
    batch_sizes: list[int]
    densities: dict[str, dict[str, float]]
    flops: dict[str, dict[str, int]]
    bytes_up: int
    bytes_up_dense: int
    bytes_down: int
    wall_time_s: float
    cpu_time_s: float
    energy: EnergyBlock = field(default_factory=EnergyBlock.none)
    energy_estimate: EnergyBlock | None = None
    status: str = "ok"
    error: str | None = None
    device: str | None = None
    engine: str = "inprocess"
    train_loss: float | None = None
    lr: float | None = None
    upload: str | None = None
    encoding: str | None = None
    timestamp: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    kind: str = "client_round"

    def __post_init__(self) -> None:
        _check_version(self.schema_version)
        if self.kind != "client_round":
            raise TraceFormatError(f"expected kind 'client_round', got {self.kind!r}")
        if self.status not in STATUSES:
            raise TraceFormatError(f"status must be one of {STATUSES}, got {self.status!r}")
        for key in ("round", "client_id", "samples", "steps", "bytes_up", "bytes_up_dense", "bytes_down"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise TraceFormatError(f"{key} must be a non-negative integer, got {v!r}")
        for key in ("wall_time_s", "cpu_time_s"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise TraceFormatError(f"{key} must be a non-negative number, got {v!r}")
        for kind in ("dense", "sparse"):
            block = self.flops.get(kind) if isinstance(self.flops, dict) else None
            if not isinstance(block, dict):
                raise TraceFormatError(f"flops.{kind} missing")
            missing = [k for k in FLOP_KEYS if k not in block]
            if missing:
                raise TraceFormatError(f"flops.{kind} lacks {', '.join(missing)}")
            for k, v in block.items():
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    raise TraceFormatError(f"flops.{kind}.{k} must be a non-negative integer, got {v!r}")
        if self.energy.source not in MEASURED_SOURCES:
            raise TraceFormatError(
                f"energy.source must be one of {MEASURED_SOURCES} (estimates go to energy_estimate), "
                f"got {self.energy.source!r}")
        if self.energy_estimate is not None and self.energy_estimate.source not in ESTIMATE_SOURCES:
            raise TraceFormatError(f"energy_estimate.source must be 'estimate', got {self.energy_estimate.source!r}")
        if not isinstance(self.densities, dict):
            raise TraceFormatError("densities must be an object {layer: {weight, activation}}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in a stable key order (schema_version and kind first)."""
        return _record_to_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ClientRoundRecord":
        """Validate and build from a JSON dict; unknown keys are an error (they signal drift)."""
        return _record_from_dict(cls, d, "client-round record")


@dataclass(frozen=True)
class RoundRecord:
    """The server side of one round: who was sampled, how aggregation went, how the model does.

    ``energy`` / ``energy_estimate`` cover the server's aggregation window only (not evaluation).
    """

    run_id: str
    round: int
    sampled_clients: list[int]
    completed_clients: list[int]
    failed_clients: list[int]
    aggregation_time_s: float
    round_wall_time_s: float
    test_accuracy: float | None  # headline: the sparse model's if evaluated sparse, else the dense one's
    test_loss: float | None
    # each evaluated model on its own (config eval_mode says which); all None in a round not evaluated
    test_accuracy_sparse: float | None = None
    test_loss_sparse: float | None = None
    test_accuracy_dense: float | None = None
    test_loss_dense: float | None = None
    lr: float | None = None
    energy: EnergyBlock = field(default_factory=EnergyBlock.none)
    energy_estimate: EnergyBlock | None = None
    engine: str = "inprocess"
    timestamp: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    kind: str = "round"

    def __post_init__(self) -> None:
        _check_version(self.schema_version)
        if self.kind != "round":
            raise TraceFormatError(f"expected kind 'round', got {self.kind!r}")
        if not isinstance(self.round, int) or self.round < 0:
            raise TraceFormatError(f"round must be a non-negative integer, got {self.round!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in a stable key order (schema_version and kind first)."""
        return _record_to_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RoundRecord":
        """Validate and build from a JSON dict; unknown keys are an error."""
        return _record_from_dict(cls, d, "round record")


def _record_to_dict(rec: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"schema_version": rec.schema_version, "kind": rec.kind}
    for f in fields(rec):
        if f.name not in d:
            v = getattr(rec, f.name)
            d[f.name] = v.to_dict() if isinstance(v, EnergyBlock) else v
    return d


def _record_from_dict(cls: Any, d: Mapping[str, Any], what: str) -> Any:
    _no_unknown_keys(cls, d, what)
    kw = dict(d)
    _check_field_types(cls, kw, what)
    try:
        for key in ("energy", "energy_estimate"):
            if kw.get(key) is not None:
                if not isinstance(kw[key], Mapping):
                    raise TraceFormatError(f"{what}: {key} must be an object, got {type(kw[key]).__name__}")
                _check_field_types(EnergyBlock, kw[key], f"{what}: {key}")
        kw["energy"] = EnergyBlock.from_dict(kw.get("energy") or {"source": "none"})
        if kw.get("energy_estimate") is not None:
            kw["energy_estimate"] = EnergyBlock.from_dict(kw["energy_estimate"])
        return cls(**kw)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, TraceFormatError):
            raise
        raise TraceFormatError(_missing_msg(exc, what)) from None


def _conforms(value: Any, tp: Any) -> bool:
    """Whether a JSON value fits a field's annotation (finite numbers only; bool is not a number)."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if tp is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and all(_conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, Mapping) and all(isinstance(k, str) and _conforms(v, args[1])
                                                   for k, v in value.items())
    if isinstance(tp, type) and hasattr(tp, "__dataclass_fields__"):
        return isinstance(value, (tp, Mapping))  # checked field by field where it is built
    return True


def _check_field_types(cls: type, d: Mapping[str, Any], what: str) -> None:
    """A field of the wrong JSON type is one line naming it, never a crash or a wrong sum later."""
    hints = get_type_hints(cls)
    for key, value in d.items():
        tp = hints.get(key)
        if tp is not None and not _conforms(value, tp):
            shown = repr(value)
            raise TraceFormatError(f"{what}: field {key!r} has the wrong type or value: "
                                   f"{shown[:60] + '...' if len(shown) > 60 else shown}")


def _check_version(v: Any) -> None:
    if v != SCHEMA_VERSION:
        raise TraceFormatError(
            f"trace schema version {v!r} is not supported (this zerofl-profiler reads version {SCHEMA_VERSION})")


_KNOWN_FIELDS: dict[type, frozenset[str]] = {}


def _no_unknown_keys(cls: type, d: Mapping[str, Any], what: str) -> None:
    if not isinstance(d, Mapping):
        raise TraceFormatError(f"{what} must be a JSON object, got {type(d).__name__}")
    if "schema_version" in d:
        _check_version(d["schema_version"])
    known = _KNOWN_FIELDS.get(cls)
    if known is None:
        known = _KNOWN_FIELDS[cls] = frozenset(f.name for f in fields(cls))
    if known.issuperset(d):
        return
    unknown = sorted(set(d) - known)
    if unknown:
        raise TraceFormatError(f"{what} has unknown field(s): {', '.join(unknown)}")


def _missing_msg(exc: TypeError, what: str) -> str:
    text = str(exc)
    if "missing" in text and "argument" in text:
        names = text.split(":", 1)[-1].strip().replace("'", "")
        return f"{what} lacks required field(s): {names}"
    return f"{what}: {text}"
