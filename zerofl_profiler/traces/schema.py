"""The trace schema: one record per client per round, one per round, and the run's constants.

This is the contract between the training engines (in-process and Flower), the measurement
backends, the device models and the reports. The dataclasses below are its one definition:
their annotations (with :class:`~.typespec.Range` bounds, ``Literal`` enumerations and
``TypedDict`` objects) generate ``trace.schema.json`` (``python -m zerofl_profiler.traces.schema_file``),
the fast decoder's types and the fallback validator (:mod:`.typespec`).

Version 2 keeps in each record only what varies per client-round. What is the same for every
record of a run -- engine, upload kind, encoding, model, why each energy backend was skipped, the
accelerator, the precision in force -- is written once, as the ``[trace]`` table of config.toml
(:class:`TraceInfo`). Version-1 traces still load: the reader upgrades them (:mod:`.upgrade`).

Files in a run directory::

    RUN_DIR/config.toml     full resolved configuration, environment fingerprint, [trace] table
    RUN_DIR/trace.jsonl     ClientRoundRecord, one JSON object per line, appended and flushed
    RUN_DIR/rounds.jsonl    RoundRecord, one per finished round
    RUN_DIR/layers.json     per-layer dense FLOP/byte counts of one training step (flops --json shape)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Annotated, Any, Literal, Mapping, TypedDict

from ..errors import TraceFormatError
from ..vocab import ENERGY_SOURCES, ESTIMATE_SOURCES, FLOP_KEYS, GEMM_PHASES, MEASURED_SOURCES
from .typespec import Range, check

SCHEMA_VERSION = 2
#: Versions the reader understands (older ones are upgraded on reading).
READABLE_VERSIONS = (1, 2)

#: Every key of a FLOP block, in column order: vocab.FLOP_KEYS, then ``topk`` (the top-k mask
#: selection, counted as comparisons: reported apart and NOT in ``total``).
FLOP_BLOCK_KEYS = FLOP_KEYS + ("topk",)

#: How the energy of a window relates to the client: ``exclusive`` (only this client ran),
#: ``shared`` (other clients ran concurrently on the same counter, e.g. under Ray).
ATTRIBUTIONS = ("exclusive", "shared")
STATUSES = ("ok", "failed")
#: Where a peak-memory figure came from: the CUDA allocator, the process's peak RSS, or nowhere.
MEM_SOURCES = ("cuda", "rss", "none")

TRACE_FILE = "trace.jsonl"
ROUNDS_FILE = "rounds.jsonl"
CONFIG_FILE = "config.toml"
LAYERS_FILE = "layers.json"
#: The config.toml table holding :class:`TraceInfo`.
TRACE_TABLE = "trace"

#: Counts are stored in int64 columns, so a count above 2**63 - 1 is bad input, not an overflow.
INT64_MAX = 2**63 - 1
Count = Annotated[int, Range(ge=0, le=INT64_MAX)]
Seconds = Annotated[float, Range(ge=0)]
Joules = Annotated[float, Range(ge=0)]
Fraction = Annotated[float, Range(ge=0, le=1)]
EnergySource = Literal[ENERGY_SOURCES]  # type: ignore[valid-type]  # the vocabulary's names, as a Literal
Attribution = Literal["exclusive", "shared"]
MemSource = Literal["cuda", "rss", "none"]
Status = Literal["ok", "failed"]


class LayerDensity(TypedDict):
    """Mean measured density of one layer over a round's steps (dense layers: 1.0)."""

    weight: Fraction
    activation: Fraction


class FlopBlock(TypedDict):
    """FLOPs of a client-round by phase (keys FLOP_BLOCK_KEYS)."""

    forward: Count
    backward_input: Count
    backward_weight: Count
    elementwise: Count
    optimizer: Count
    total: Count
    topk: Count


class FlopCounts(TypedDict):
    """What the steps cost without sparsity (``dense``) and with the measured densities (``sparse``)."""

    dense: FlopBlock
    sparse: FlopBlock


@dataclass(frozen=True)
class EnergyBlock:
    """Energy of one window: per-domain joules, total, duration, where it came from and why not.

    ``source`` is one of MEASURED_SOURCES (in ``energy``) or ``estimate`` (in ``energy_estimate``).
    ``method`` says how: ``counter`` (hardware energy counter), ``power-sampling`` (integrated
    power readings), ``cpu-time-x-power`` (estimate), ``codecarbon:<mode>``, or ``none``.
    ``skipped`` maps each backend that was not used to the reason; a version-2 trace line leaves
    it out where it equals the run's ``[trace] energy_skipped`` (measured block) or is empty
    (estimate block), and the reader restores it. ``total_j`` is None when nothing was measured -- never 0 J for "unknown".
    """

    source: EnergySource = "none"
    method: str = "none"
    total_j: Joules | None = None
    domains_j: dict[str, float] = field(default_factory=dict)
    duration_s: Seconds | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    attribution: Attribution = "exclusive"
    emissions_g: Annotated[float, Range(ge=0)] | None = None
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        d = asdict(self)
        d["flags"] = list(self.flags)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EnergyBlock":
        """Build from a JSON dict, rejecting unknown keys and values of the wrong type."""
        return cls._from_checked(check(dict(d) if isinstance(d, Mapping) else d, cls, "energy"))

    @classmethod
    def _from_checked(cls, d: Mapping[str, Any]) -> "EnergyBlock":
        kw = dict(d)
        kw["flags"] = tuple(kw.get("flags", ()))
        return cls(**kw)

    @staticmethod
    def none(skipped: Mapping[str, str] | None = None) -> "EnergyBlock":
        """The explicit 'nothing measured' block."""
        return EnergyBlock(source="none", method="none", skipped=dict(skipped or {}))


def empty_flops() -> dict[str, int]:
    """A FLOP block with every key present and zero (no step was run)."""
    return {k: 0 for k in FLOP_BLOCK_KEYS}


@dataclass(frozen=True)
class TraceInfo:
    """What is the same for every record of a run: the ``[trace]`` table of config.toml.

    ``energy_skipped`` maps each energy backend the run's meter did not use to the reason.
    ``accelerator`` names the device training ran on (None: CPU only); ``precision`` the dtype
    of training arithmetic.
    """

    engine: str
    upload: str
    encoding: str
    model: str
    energy_skipped: dict[str, str] = field(default_factory=dict)
    accelerator: str | None = None
    precision: str = "float32"
    schema_version: Literal[2] = SCHEMA_VERSION

    def to_toml_dict(self) -> dict[str, Any]:
        """TOML-ready dict (None values omitted: TOML has no null)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "[trace]") -> "TraceInfo":
        """Validate and build from the [trace] table."""
        try:
            return cls(**check(dict(d) if isinstance(d, Mapping) else d, cls, ""))
        except TraceFormatError as exc:
            raise TraceFormatError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class ClientRoundRecord:
    """One client's local training in one round, as both engines write it.

    FLOPs are summed over the batches actually run (a partial last batch counts as what it is).
    ``flops['dense']`` is what the same steps would cost without sparsity; ``flops['sparse']``
    uses the densities measured during those steps. ``densities`` maps a layer's qualified name to
    the mean measured {"weight": dw, "activation": da} over the round's steps (dense layers: 1.0).
    ``bytes_up`` is the size of the encoded upload actually produced; ``bytes_up_dense`` what a
    dense fp32 upload of the same tensors costs; ``bytes_down`` the dense global model.
    ``accelerator_time_s`` is time measured on the accelerator (None: none measured);
    ``peak_mem_bytes`` the peak memory of the training window, from ``mem_source``.
    ``flags`` are short notes on the record (e.g. ``topk-not-recorded`` for an upgraded v1 line);
    ``extra`` holds any other JSON values (numeric ones become columns on loading).
    """

    run_id: str
    round: Count
    client_id: Count
    samples: Count
    steps: Count
    batch_sizes: list[Count]
    densities: dict[str, LayerDensity]
    flops: FlopCounts
    bytes_up: Count
    bytes_up_dense: Count
    bytes_down: Count
    wall_time_s: Seconds
    cpu_time_s: Seconds
    accelerator_time_s: Seconds | None = None
    peak_mem_bytes: Count | None = None
    mem_source: MemSource = "none"
    energy: EnergyBlock = field(default_factory=EnergyBlock.none)
    energy_estimate: EnergyBlock | None = None
    status: Status = "ok"
    error: str | None = None
    device: str | None = None
    train_loss: float | None = None
    lr: float | None = None
    timestamp: float | None = None
    flags: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: Literal[2] = SCHEMA_VERSION
    kind: Literal["client_round"] = "client_round"
    __wire_required__ = ("schema_version", "kind")

    def __post_init__(self) -> None:
        _check_version(self.schema_version)
        if self.kind != "client_round":
            raise TraceFormatError(f"expected kind 'client_round', got {self.kind!r}")
        if self.status not in STATUSES:
            raise TraceFormatError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.mem_source not in MEM_SOURCES:
            raise TraceFormatError(f"mem_source must be one of {MEM_SOURCES}, got {self.mem_source!r}")
        if (self.peak_mem_bytes is None) != (self.mem_source == "none"):
            raise TraceFormatError("peak_mem_bytes is null exactly when mem_source is 'none'")
        for key in ("round", "client_id", "samples", "steps", "bytes_up", "bytes_up_dense", "bytes_down"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise TraceFormatError(f"{key} must be a non-negative integer, got {v!r}")
        for key in ("wall_time_s", "cpu_time_s"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v != v or v in (float("inf"),) or v < 0:
                raise TraceFormatError(f"{key} must be a non-negative number, got {v!r}")
        for kind in ("dense", "sparse"):
            block = self.flops.get(kind) if isinstance(self.flops, dict) else None
            if not isinstance(block, dict):
                raise TraceFormatError(f"flops.{kind} missing")
            missing = [k for k in FLOP_BLOCK_KEYS if k not in block]
            if missing:
                raise TraceFormatError(f"flops.{kind} lacks {', '.join(missing)}")
            for k, v in block.items():
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    raise TraceFormatError(f"flops.{kind}.{k} must be a non-negative integer, got {v!r}")
        check_energy_sources(self.energy.source, None if self.energy_estimate is None else self.energy_estimate.source)
        if not isinstance(self.densities, dict):
            raise TraceFormatError("densities must be an object {layer: {weight, activation}}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in a stable key order (schema_version and kind first)."""
        return _record_to_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ClientRoundRecord":
        """Validate and build from a version-2 JSON dict; unknown keys are an error (they signal drift)."""
        return _record_from_dict(cls, d)


def check_energy_sources(measured: str, estimate: str | None) -> None:
    """An estimate never fills the measured block, and the estimate block holds only estimates."""
    if measured not in MEASURED_SOURCES:
        raise TraceFormatError(
            f"energy.source must be one of {MEASURED_SOURCES} (estimates go to energy_estimate), got {measured!r}")
    if estimate is not None and estimate not in ESTIMATE_SOURCES:
        raise TraceFormatError(f"energy_estimate.source must be 'estimate', got {estimate!r}")


@dataclass(frozen=True)
class RoundRecord:
    """The server side of one round: who was sampled, how aggregation went, how the model does.

    ``energy`` / ``energy_estimate`` cover the server's aggregation window only (not evaluation).
    """

    run_id: str
    round: Count
    sampled_clients: list[Count]
    completed_clients: list[Count]
    failed_clients: list[Count]
    aggregation_time_s: Seconds
    round_wall_time_s: Seconds
    test_accuracy: Fraction | None  # headline: the sparse model's if evaluated sparse, else the dense one's
    test_loss: float | None
    lr: float | None = None
    test_accuracy_sparse: Fraction | None = None  # each evaluated model on its own (--eval-mode); null if not
    test_loss_sparse: float | None = None
    test_accuracy_dense: Fraction | None = None
    test_loss_dense: float | None = None
    energy: EnergyBlock = field(default_factory=EnergyBlock.none)
    energy_estimate: EnergyBlock | None = None
    engine: str = "inprocess"
    timestamp: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: Literal[2] = SCHEMA_VERSION
    kind: Literal["round"] = "round"
    __wire_required__ = ("schema_version", "kind")

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
        """Validate and build from a version-2 JSON dict; unknown keys are an error."""
        return _record_from_dict(cls, d)


def _record_to_dict(rec: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"schema_version": rec.schema_version, "kind": rec.kind}
    for f in fields(rec):
        if f.name not in d:
            v = getattr(rec, f.name)
            d[f.name] = v.to_dict() if isinstance(v, EnergyBlock) else list(v) if isinstance(v, tuple) else v
    return d


def _record_from_dict(cls: Any, d: Mapping[str, Any]) -> Any:
    if isinstance(d, Mapping) and "schema_version" in d:
        _check_version(d["schema_version"])
    kw = check(dict(d) if isinstance(d, Mapping) else d, cls, "")
    kw["energy"] = EnergyBlock._from_checked(kw["energy"]) if "energy" in kw else EnergyBlock.none()
    if kw.get("energy_estimate") is not None:
        kw["energy_estimate"] = EnergyBlock._from_checked(kw["energy_estimate"])
    if "flags" in kw:
        kw["flags"] = tuple(kw["flags"])
    return cls(**kw)


def _check_version(v: Any) -> None:
    if v != SCHEMA_VERSION:
        if v in READABLE_VERSIONS:
            raise TraceFormatError(f"a version-{v} record where version {SCHEMA_VERSION} is expected")
        raise TraceFormatError(f"trace schema version {v!r} is not supported (this zerofl-profiler reads versions "
                               f"{', '.join(map(str, READABLE_VERSIONS))})")
