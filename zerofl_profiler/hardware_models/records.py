"""The records of costing: device and network descriptions, each number with its source.

Frozen dataclasses only (no parsing, no file I/O: :mod:`.devicefile` builds them from TOML).
A :class:`DeviceSpec` is one device file; :meth:`DeviceSpec.profile` flattens one unit in one
power mode under one runtime and precision choice into the plain floats of a
:class:`DeviceProfile`, which is all that pricing (:mod:`.pricing`) reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from ..errors import BadInputError, UnknownDeviceError
from ..vocab import GEMM_CLASSES, OP_CLASSES, TOPK_CLASSES
from ..vocab import TRACE_PHASES as PHASES  # the trace FLOP phases the cost model prices (total = their sum)

SOURCE_KINDS = ("datasheet", "paper", "measured", "assumption")
#: Every unit states an efficiency for gemm and elementwise (op classes: vocab.OP_CLASSES).
REQUIRED_OP_CLASSES = ("gemm", "elementwise")
#: Where an optional class's efficiency comes from when a file does not state it (an assumption,
#: listed in docs/devices.md): grouped/depthwise convolutions are priced as GEMMs, pooling,
#: normalisation, top-k and the optimizer update as elementwise ops, a kept top-k entry as a
#: top-k comparison.
EFFICIENCY_FALLBACK = {"gemm_grouped": "gemm", "pool": "elementwise", "norm": "elementwise",
                       "topk": "elementwise", "topk_kept": "topk", "optimizer": "elementwise"}
#: Numeric precisions an op class can run in; ``fp32`` is the plain ``peak_flops``.
PRECISIONS = ("fp32", "tf32", "fp16", "bf16")
#: The unit field holding the peak of each precision.
PEAK_FIELD = {"fp32": "peak_flops", "tf32": "peak_flops_tf32", "fp16": "peak_flops_fp16",
              "bf16": "peak_flops_bf16"}
#: Bytes per element of each precision (the FLOP counter counts 4-byte FP32 traffic; TF32 is a
#: matrix-unit mode on FP32 tensors).
PRECISION_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2}
#: Op classes whose tensors a 16-bit (mixed-precision) run keeps in 16 bits: all but the top-k
#: masks and the optimizer update, which works on FP32 master weights.
HALF_TENSOR_CLASSES = tuple(c for c in OP_CLASSES if c not in TOPK_CLASSES + ("optimizer",))
#: How a runtime issues its kernels: ``serial`` (a CPU runtime: dispatch and execution add up) or
#: ``async`` (CUDA streams: the host queues kernels while the device runs earlier ones, so a row
#: takes the longer of its roofline and its dispatch, ``max(roof, k * o)``).
DISPATCH_MODES = ("serial", "async")
#: What ``kernel_overhead_s`` is paid per: ``row`` (one dispatch per layer x phase row with work, the
#: default) or ``op`` (per aten op the runtime dispatches, as the FLOP counter counts them for eager
#: PyTorch: ``launches`` in layers.json; a document without them falls back to one per row).
DISPATCH_UNITS = ("row", "op")


def run_precision(precision: str) -> dict[str, str]:
    """The precision of every op class in a run asked for ``precision`` (docs/devices.md, "Precision").

    fp32: everything FP32. tf32: the GEMM classes on TF32 matrix units, every tensor FP32. fp16/bf16
    (mixed precision, as autocast runs it): the GEMM classes at the 16-bit peak and the tensors of
    HALF_TENSOR_CLASSES in 16 bits; top-k and the optimizer stay FP32.
    """
    if precision not in PRECISIONS:
        raise BadInputError(f"--precision {precision!r}: must be one of {', '.join(PRECISIONS)}")
    moved = HALF_TENSOR_CLASSES if PRECISION_BYTES[precision] == 2 else GEMM_CLASSES
    return {c: (precision if c in moved else "fp32") for c in OP_CLASSES}
ENERGY_MODES = ("active_power", "per_op")
CATEGORIES = ("gpu", "jetson", "phone", "cpu", "host")
#: Op class used for a phase when no layer breakdown is known.
PHASE_CLASS = {"forward": "gemm", "backward_input": "gemm", "backward_weight": "gemm",
               "elementwise": "elementwise", "optimizer": "optimizer"}

#: Unit fields that are plain quantities (efficiency is a table of them).
UNIT_QUANTITIES = ("peak_flops", "peak_flops_tf32", "peak_flops_fp16", "peak_flops_bf16",
                   "mem_bandwidth_bytes_per_s", "kernel_overhead_s", "sparse_efficiency", "idle_power_w",
                   "active_power_w", "dynamic_power_w", "energy_per_flop_j", "energy_per_byte_j")
NETWORK_QUANTITIES = ("uplink_bytes_per_s", "downlink_bytes_per_s", "energy_per_bit_up_j",
                      "energy_per_bit_down_j", "base_power_w", "tail_time_s", "tail_power_w",
                      "promotion_time_s", "promotion_power_w")


def resolve_efficiency(efficiency: Mapping[str, float], op_class: str) -> float:
    """The efficiency of ``op_class``: stated, else its fallback class's (EFFICIENCY_FALLBACK)."""
    while op_class not in efficiency:
        op_class = EFFICIENCY_FALLBACK[op_class]
    return efficiency[op_class]


#: unit and runtime-profile fields that hold one name (how kernels are dispatched and multiplied)
NAME_FIELDS = ("dispatch", "dispatch_unit", "gemm_algorithm")

@dataclass(frozen=True)
class Source:
    """Where a number comes from, so every estimate can be traced to a datasheet, paper or guess."""

    kind: str
    ref: str
    quote: str

    def to_json(self) -> dict[str, str]:
        """JSON-ready dict."""
        return {"kind": self.kind, "ref": self.ref, "quote": self.quote}


@dataclass(frozen=True)
class Quantity:
    """A number with its source; never a bare float in a device file."""

    value: float
    source: Source

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"value": self.value, "source": self.source.to_json()}


@dataclass(frozen=True)
class SparseEfficiencyCurve:
    """Sparse efficiency as a function of density: linear interpolation, clamped at the ends."""

    density: tuple[float, ...]
    efficiency: tuple[float, ...]
    source: Source

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"density": list(self.density), "efficiency": list(self.efficiency),
                "source": self.source.to_json()}

    def break_even_density(self) -> float | None:
        """Where a real sparse kernel beat dense (see :func:`break_even_density`)."""
        return break_even_density(self.density, self.efficiency)


def break_even_density(density: Sequence[float], efficiency: Sequence[float]) -> float | None:
    """The highest density with a positive sparse efficiency (a sparse kernel faster than dense), else None."""
    faster = [d for d, e in zip(density, efficiency) if e > 0.0]
    return max(faster) if faster else None


@dataclass(frozen=True)
class BreakEven:
    """Up to which weight density a device's measured sparse kernel beats dense (None: at no density), and why."""

    density: float | None
    reason: str

    @staticmethod
    def of(spec: "DeviceSpec", unit: str = "cpu") -> "BreakEven":
        """From ``unit``'s sparse-efficiency curve, only when it was measured (a declared curve is not a measurement)."""
        where = spec.path or spec.name
        u = spec.units.get(unit)
        curve = None if u is None else u.sparse_efficiency_curve
        if curve is None:
            return BreakEven(None, f"{where} has no sparse_efficiency_curve for unit {unit!r} "
                                   f"(`zerofl-profile calibrate` measures one)")
        if curve.source.kind != "measured":
            return BreakEven(None, f"{where}: the {unit} sparse_efficiency_curve is {curve.source.kind}, "
                                   f"not measured (`zerofl-profile calibrate` measures one)")
        d = curve.break_even_density()
        if d is None:
            return BreakEven(None, f"{where}: the measured sparse kernel beat dense at no density "
                                   f"({', '.join(f'{x:g}' for x in curve.density)})")
        return BreakEven(d, f"{where}: the measured sparse kernel beats dense at density <= {d:g}")


@dataclass(frozen=True)
class RuntimeProfile:
    """Another runtime on the same unit: what it overrides (unstated fields inherit the unit's)."""

    name: str
    kernel_overhead_s: Quantity | None = None
    efficiency: Mapping[str, Quantity] = field(default_factory=dict)
    half_work_flops: Quantity | None = None
    precision: Mapping[str, str] = field(default_factory=dict)
    dispatch: str | None = None
    dispatch_unit: str | None = None
    gemm_algorithm: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d: dict[str, Any] = {}
        d.update({f: getattr(self, f) for f in NAME_FIELDS if getattr(self, f) is not None})
        if self.kernel_overhead_s is not None:
            d["kernel_overhead_s"] = self.kernel_overhead_s.to_json()
        if self.efficiency:
            d["efficiency"] = {k: v.to_json() for k, v in self.efficiency.items()}
        if self.half_work_flops is not None:
            d["efficiency_curve"] = {"half_work_flops": self.half_work_flops.to_json()}
        if self.precision:
            d["precision"] = dict(self.precision)
        return d


@dataclass(frozen=True)
class ComputeUnit:
    """One compute unit (a GPU, or the CPU or GPU of a SoC) in the device's default power mode."""

    name: str
    peak_flops: Quantity
    mem_bandwidth_bytes_per_s: Quantity
    kernel_overhead_s: Quantity
    sparse_efficiency: Quantity
    idle_power_w: Quantity
    efficiency: Mapping[str, Quantity]
    active_power_w: Quantity | None = None
    energy_per_flop_j: Quantity | None = None
    energy_per_byte_j: Quantity | None = None
    peak_flops_tf32: Quantity | None = None
    peak_flops_fp16: Quantity | None = None
    peak_flops_bf16: Quantity | None = None
    dynamic_power_w: Quantity | None = None
    half_work_flops: Quantity | None = None
    sparse_efficiency_curve: SparseEfficiencyCurve | None = None
    precision: Mapping[str, str] = field(default_factory=dict)
    default_runtime: str | None = None
    runtimes: Mapping[str, RuntimeProfile] = field(default_factory=dict)
    dispatch: str | None = None
    dispatch_unit: str | None = None
    gemm_algorithm: str | None = None

    def quantities(self) -> dict[str, Quantity]:
        """Every number of this unit by dotted field name (for completeness checks and display)."""
        out = {k: getattr(self, k) for k in UNIT_QUANTITIES if getattr(self, k) is not None}
        out.update({f"efficiency.{k}": v for k, v in self.efficiency.items()})
        if self.half_work_flops is not None:
            out["efficiency_curve.half_work_flops"] = self.half_work_flops
        for rn, r in self.runtimes.items():
            if r.kernel_overhead_s is not None:
                out[f"runtimes.{rn}.kernel_overhead_s"] = r.kernel_overhead_s
            out.update({f"runtimes.{rn}.efficiency.{k}": v for k, v in r.efficiency.items()})
            if r.half_work_flops is not None:
                out[f"runtimes.{rn}.efficiency_curve.half_work_flops"] = r.half_work_flops
        return out

    def runtime_names(self) -> tuple[str, ...]:
        """The runtimes this unit can be priced under (the default one first)."""
        first = (self.default_runtime,) if self.default_runtime else ()
        return first + tuple(r for r in self.runtimes if r != self.default_runtime)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d: dict[str, Any] = {k: getattr(self, k).to_json() for k in UNIT_QUANTITIES if getattr(self, k) is not None}
        d["efficiency"] = {k: v.to_json() for k, v in self.efficiency.items()}
        if self.half_work_flops is not None:
            d["efficiency_curve"] = {"half_work_flops": self.half_work_flops.to_json()}
        if self.sparse_efficiency_curve is not None:
            d["sparse_efficiency_curve"] = self.sparse_efficiency_curve.to_json()
        if self.precision:
            d["precision"] = dict(self.precision)
        if self.default_runtime is not None:
            d["default_runtime"] = self.default_runtime
        d.update({f: getattr(self, f) for f in NAME_FIELDS if getattr(self, f) is not None})
        if self.runtimes:
            d["runtimes"] = {k: r.to_json() for k, r in self.runtimes.items()}
        return d


@dataclass(frozen=True)
class PowerMode:
    """A named power mode (Jetson nvpmodel, GPU power limit): per-unit field overrides."""

    name: str
    overrides: Mapping[str, Mapping[str, Quantity]]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {u: {k: q.to_json() for k, q in f.items()} for u, f in self.overrides.items()}


@dataclass(frozen=True)
class DeviceProfile:
    """The plain numbers of one unit in one mode under one runtime: what pricing consumes.

    ``peaks`` holds the unit's stated peak of each non-FP32 precision; ``precision`` the precision
    each op class runs in (its element size, and for the GEMM classes its peak: :meth:`peak`);
    ``half_work_flops`` = 0 means flat efficiencies; ``dynamic_power_w`` None means the flat
    ``active_power_w`` while busy; ``sparse_curve`` None means the scalar ``sparse_efficiency``;
    ``dispatch`` is how the runtime issues kernels (DISPATCH_MODES); ``dispatch_unit`` what
    ``kernel_overhead_s`` is paid per (DISPATCH_UNITS); ``gemm_algorithm`` how its dense
    GEMM rows multiply (``gemm_algorithms.GEMM_ALGORITHMS``; ``direct`` = every counted FLOP).
    """

    name: str
    device: str
    unit: str
    mode: str | None
    energy_mode: str
    peak_flops: float
    mem_bandwidth_bytes_per_s: float
    kernel_overhead_s: float
    sparse_efficiency: float
    idle_power_w: float
    efficiency: Mapping[str, float]
    ram_bytes: float
    active_power_w: float = 0.0
    energy_per_flop_j: float = 0.0
    energy_per_byte_j: float = 0.0
    peaks: Mapping[str, float] = field(default_factory=dict)
    precision: Mapping[str, str] = field(default_factory=dict)
    half_work_flops: float = 0.0
    dynamic_power_w: float | None = None
    sparse_curve: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    runtime: str | None = None
    dispatch: str = "serial"
    dispatch_unit: str = "row"
    gemm_algorithm: str = "direct"

    def eff(self, op_class: str) -> float:
        """Achievable fraction of peak for an op class (unstated classes: EFFICIENCY_FALLBACK)."""
        return resolve_efficiency(self.efficiency, op_class)

    def peak(self, op_class: str) -> float:
        """Peak FLOP/s an op class is priced at: a GEMM class at the peak of its precision (the
        matrix units; ``peak_flops`` where the unit states none), every other class at ``peak_flops``."""
        p = self.precision_of(op_class)
        if p == "fp32" or op_class not in GEMM_CLASSES:
            return self.peak_flops
        return self.peaks.get(p, self.peak_flops)

    def precision_of(self, op_class: str) -> str:
        """Precision an op class runs in (fp32 unless the file or --precision says otherwise)."""
        return self.precision.get(op_class, "fp32")

    def bytes_scale(self, op_class: str) -> float:
        """Traffic of an op class relative to the counter's FP32 bytes (its precision's element size / 4)."""
        return PRECISION_BYTES[self.precision_of(op_class)] / 4.0

    def with_precision(self, precision: str) -> "DeviceProfile":
        """This unit in a run asked for ``precision`` (:func:`run_precision`); a unit with no peak for it
        is an error naming the field."""
        prec = run_precision(precision)
        if precision != "fp32" and precision not in self.peaks:
            have = ["fp32"] + [p for p in PRECISIONS if p in self.peaks]
            raise BadInputError(f"--precision {precision}: {self.name} states no {PEAK_FIELD[precision]} "
                                f"(precisions with a peak: {', '.join(have)})")
        return replace(self, precision=MappingProxyType(prec))

    def assumptions(self) -> dict[str, Any]:
        """What this profile assumes, for every estimate's stated basis."""
        precisions = {c: self.precision_of(c) for c in OP_CLASSES}
        return {"device": self.name, "mode": self.mode, "runtime": self.runtime,
                "precision": precisions if len(set(precisions.values())) > 1 else next(iter(precisions.values())),
                "energy_basis": ("per_op" if self.energy_mode == "per_op" else
                                 "idle + dynamic x utilisation" if self.dynamic_power_w is not None
                                 else "active_power while busy"),
                "dispatch": self.dispatch, "dispatch_unit": self.dispatch_unit,
                **({"gemm_algorithm": self.gemm_algorithm} if self.gemm_algorithm != "direct" else {}),
                "efficiency_curve": "flat" if not self.half_work_flops else
                f"saturating, half_work_flops = {self.half_work_flops:g}",
                "sparse_efficiency": "curve over density" if self.sparse_curve else self.sparse_efficiency}

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"name": self.name, "device": self.device, "unit": self.unit, "mode": self.mode,
                "energy_mode": self.energy_mode, "peak_flops": self.peak_flops,
                "mem_bandwidth_bytes_per_s": self.mem_bandwidth_bytes_per_s,
                "kernel_overhead_s": self.kernel_overhead_s, "sparse_efficiency": self.sparse_efficiency,
                "idle_power_w": self.idle_power_w, "active_power_w": self.active_power_w,
                "energy_per_flop_j": self.energy_per_flop_j, "energy_per_byte_j": self.energy_per_byte_j,
                "efficiency": {k: self.eff(k) for k in OP_CLASSES}, "ram_bytes": self.ram_bytes,
                "peak_by_class": {k: self.peak(k) for k in OP_CLASSES},
                "precision": {k: self.precision_of(k) for k in OP_CLASSES}, "dispatch": self.dispatch,
                "dispatch_unit": self.dispatch_unit,
                **({"gemm_algorithm": self.gemm_algorithm} if self.gemm_algorithm != "direct" else {}),
                "half_work_flops": self.half_work_flops, "dynamic_power_w": self.dynamic_power_w,
                "sparse_efficiency_curve": None if self.sparse_curve is None else
                {"density": list(self.sparse_curve[0]), "efficiency": list(self.sparse_curve[1])},
                "runtime": self.runtime}


def _apply_overrides(u: ComputeUnit, ov: Mapping[str, Quantity]) -> ComputeUnit:
    """A unit with a power mode's field overrides applied."""
    if not ov:
        return u
    eff = dict(u.efficiency)
    plain: dict[str, Quantity] = {}
    for k, q in ov.items():
        if k.startswith("efficiency."):
            eff[k.split(".", 1)[1]] = q
        elif k == "efficiency_curve.half_work_flops":
            plain["half_work_flops"] = q
        else:
            plain[k] = q
    return replace(u, efficiency=MappingProxyType(eff), **plain)


@dataclass(frozen=True)
class DeviceSpec:
    """A device from one TOML file: its compute units, power modes and RAM, each number sourced."""

    name: str
    display_name: str
    category: str
    energy_mode: str
    ram_bytes: Quantity
    units: Mapping[str, ComputeUnit]
    default_unit: str
    modes: Mapping[str, PowerMode] = field(default_factory=dict)
    default_mode: str | None = None
    notes: str = ""
    path: str | None = None
    schema: int = 1

    def unit_names(self) -> tuple[str, ...]:
        """Unit names in file order."""
        return tuple(self.units)

    def variant_names(self) -> list[str]:
        """Every name of the grammar that resolves to this device (for listings and errors)."""
        out = []
        for u in self.units:
            base = f"{self.name}-{u}" if len(self.units) > 1 else self.name
            out.append(base)
            out.extend(f"{base}@{m}" for m in self.modes)
        return out

    def profile(self, unit: str | None = None, mode: str | None = None, *, runtime: str | None = None,
                precision: str | None = None) -> DeviceProfile:
        """Flatten one unit in one power mode (and runtime, precision) into plain floats."""
        u_name = unit or self.default_unit
        if u_name not in self.units:
            raise UnknownDeviceError(f"device {self.name!r} has no unit {u_name!r}; units: "
                                     f"{', '.join(self.units)}")
        m_name = mode if mode is not None else self.default_mode
        u = self.units[u_name]
        if m_name is not None:
            if m_name not in self.modes:
                known = ", ".join(self.modes) or "none"
                raise UnknownDeviceError(f"device {self.name!r} has no power mode {m_name!r}; modes: {known}")
            u = _apply_overrides(u, self.modes[m_name].overrides.get(u_name, {}))
        label = self.name if len(self.units) == 1 else f"{self.name}-{u_name}"
        if m_name is not None:
            label += f"@{m_name}"
        eff_q = dict(u.efficiency)
        overhead_q, half_q, prec = u.kernel_overhead_s, u.half_work_flops, dict(u.precision)
        dispatch = u.dispatch or "serial"
        dispatch_unit = u.dispatch_unit or "row"
        algorithm = u.gemm_algorithm or "direct"
        rt_name = u.default_runtime
        if runtime is not None and runtime != u.default_runtime:
            if runtime not in u.runtimes:
                known = ", ".join(u.runtime_names()) or "none declared"
                raise BadInputError(f"--runtime {runtime!r}: {label} has no such runtime profile (runtimes: {known})")
            rt = u.runtimes[runtime]
            eff_q.update(rt.efficiency)
            overhead_q = rt.kernel_overhead_s or overhead_q
            half_q = rt.half_work_flops or half_q
            prec.update(rt.precision)
            dispatch = rt.dispatch or dispatch
            dispatch_unit = rt.dispatch_unit or dispatch_unit
            algorithm = rt.gemm_algorithm or algorithm
            rt_name = runtime

        def val(q: Quantity | None) -> float:
            return float(q.value) if q is not None else 0.0

        curve = u.sparse_efficiency_curve
        prof = DeviceProfile(
            name=label, device=self.name, unit=u_name, mode=m_name, energy_mode=self.energy_mode,
            peak_flops=val(u.peak_flops), mem_bandwidth_bytes_per_s=val(u.mem_bandwidth_bytes_per_s),
            kernel_overhead_s=val(overhead_q), sparse_efficiency=val(u.sparse_efficiency),
            idle_power_w=val(u.idle_power_w),
            efficiency=MappingProxyType({k: float(q.value) for k, q in eff_q.items()}),
            ram_bytes=val(self.ram_bytes), active_power_w=val(u.active_power_w),
            energy_per_flop_j=val(u.energy_per_flop_j), energy_per_byte_j=val(u.energy_per_byte_j),
            peaks=MappingProxyType({p: val(getattr(u, PEAK_FIELD[p])) for p in PRECISIONS
                                    if p != "fp32" and getattr(u, PEAK_FIELD[p]) is not None}),
            precision=MappingProxyType(prec), half_work_flops=val(half_q),
            dynamic_power_w=None if u.dynamic_power_w is None else val(u.dynamic_power_w),
            sparse_curve=None if curve is None else (curve.density, curve.efficiency), runtime=rt_name,
            dispatch=dispatch, dispatch_unit=dispatch_unit, gemm_algorithm=algorithm)
        return prof if precision is None else prof.with_precision(precision)

    def quantities(self) -> dict[str, Quantity]:
        """Every number in the file by dotted path (catalogue completeness tests walk this)."""
        out: dict[str, Quantity] = {"ram_bytes": self.ram_bytes}
        for un, u in self.units.items():
            out.update({f"units.{un}.{k}": q for k, q in u.quantities().items()})
        for mn, m in self.modes.items():
            for un, fields_ in m.overrides.items():
                out.update({f"modes.{mn}.units.{un}.{k}": q for k, q in fields_.items()})
        return out

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (`devices show NAME --json`)."""
        return {"name": self.name, "display_name": self.display_name, "category": self.category,
                "energy_mode": self.energy_mode, "default_unit": self.default_unit,
                "default_mode": self.default_mode, "ram_bytes": self.ram_bytes.to_json(),
                "units": {k: u.to_json() for k, u in self.units.items()},
                "modes": {k: m.to_json() for k, m in self.modes.items()},
                "names": self.variant_names(), "notes": self.notes, "path": self.path, "schema": self.schema}


@dataclass(frozen=True)
class NetworkSpec:
    """A network interface: bandwidths, radio energy per bit, base power, tail and promotion."""

    name: str
    display_name: str
    uplink_bytes_per_s: Quantity
    downlink_bytes_per_s: Quantity
    energy_per_bit_up_j: Quantity
    energy_per_bit_down_j: Quantity
    base_power_w: Quantity
    tail_time_s: Quantity
    tail_power_w: Quantity
    promotion_time_s: Quantity
    promotion_power_w: Quantity
    notes: str = ""
    path: str | None = None

    def quantities(self) -> dict[str, Quantity]:
        """Every number by field name."""
        return {k: getattr(self, k) for k in NETWORK_QUANTITIES}

    def value(self, key: str) -> float:
        """The plain float of one field."""
        return float(getattr(self, key).value)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d: dict[str, Any] = {"name": self.name, "display_name": self.display_name}
        d.update({k: q.to_json() for k, q in self.quantities().items()})
        d["notes"] = self.notes
        return d
