"""Device and network descriptions: frozen records parsed from TOML, every number with its source.

A device file (one device per file, ``hardware_models/catalogue/<name>.toml`` or a user file given
with ``--device-file``) looks like this; every numeric field is a table ``{value, source}`` where
``source`` is either an inline table ``{kind, ref, quote}`` or the key of a ``[sources.<key>]``
table in the same file (to avoid repeating one datasheet thirty times)::

    schema = 1                          # device-file schema version
    name = "jetson-agx-orin"            # lower-case, [a-z0-9.-], the catalogue name
    display_name = "NVIDIA Jetson AGX Orin 64GB developer kit"
    category = "jetson"                 # gpu | jetson | phone | cpu | host
    energy_mode = "active_power"        # active_power | per_op  (one declared mode per device)
    default_unit = "gpu"                # unit used when the name carries no -<unit> suffix
    default_mode = "MAXN"               # power mode used when the name carries no @<mode>
    ram_bytes = {value = 68719476736, source = "ds"}

    [sources.ds]
    kind = "datasheet"                  # datasheet | paper | measured | assumption
    ref = "NVIDIA Jetson AGX Orin Series data sheet"
    quote = "2048-core NVIDIA Ampere architecture GPU ... 204.8GB/s"

    [units.gpu]                         # one table per compute unit (SoCs: cpu and gpu)
    peak_flops = {value = 5.32e12, source = "ds"}              # FP32 FLOP/s
    mem_bandwidth_bytes_per_s = {value = 204.8e9, source = "ds"}
    kernel_overhead_s = {value = 2e-5, source = {kind = "assumption", ref = "...", quote = "..."}}
    sparse_efficiency = {value = 0.0, source = ...}            # 0 = dense kernels, 1 = ideal
    idle_power_w = {value = 5.0, source = ...}
    active_power_w = {value = 60.0, source = ...}              # energy_mode = active_power
    # energy_per_flop_j = {...}; energy_per_byte_j = {...}     # energy_mode = per_op
    [units.gpu.efficiency]                                     # achievable fraction of peak
    gemm = {value = 0.5, source = ...}
    elementwise = {value = 0.1, source = ...}
    topk = {value = 0.05, source = ...}                        # optional: defaults to elementwise
    optimizer = {value = 0.1, source = ...}                    # optional: defaults to elementwise
    pool = {value = 0.05, source = ...}                        # optional: defaults to elementwise
    norm = {value = 0.05, source = ...}                        # optional: defaults to elementwise
    gemm_grouped = {value = 0.1, source = ...}                 # optional: defaults to gemm

    [modes.30W]                          # optional power modes; each overrides unit fields
    units.gpu.peak_flops = {value = 2.6e12, source = ...}
    units.gpu.active_power_w = {value = 30.0, source = ...}

A network file (``hardware_models/networks/<name>.toml``)::

    schema = 1
    name = "lte"
    display_name = "4G LTE (Huang et al., MobiSys 2012)"
    uplink_bytes_per_s = {value = ..., source = ...}
    downlink_bytes_per_s = {value = ..., source = ...}
    energy_per_bit_up_j = {value = ..., source = ...}
    energy_per_bit_down_j = {value = ..., source = ...}
    base_power_w = {value = ..., source = ...}       # radio power while transferring, beyond per-bit
    tail_time_s = {value = ..., source = ...}        # high-power tail after the last packet
    tail_power_w = {value = ..., source = ...}
    promotion_time_s = {value = ..., source = ...}   # idle -> connected state switch
    promotion_power_w = {value = ..., source = ...}

Validation names the offending field as a dotted path (``units.gpu.efficiency.gemm.value``).
This module is pure Python (no torch, no numpy): the cost model reads the flattened
:class:`DeviceProfile` that :meth:`DeviceSpec.profile` returns.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from ..errors import BadInputError

FILE_SCHEMA = 1
SOURCE_KINDS = ("datasheet", "paper", "measured", "assumption")
#: Op classes the cost model knows; every unit states an efficiency for gemm and elementwise.
OP_CLASSES = ("gemm", "gemm_grouped", "elementwise", "pool", "norm", "topk", "topk_kept", "optimizer")
REQUIRED_OP_CLASSES = ("gemm", "elementwise")
#: Where an optional class's efficiency comes from when a file does not state it (an assumption,
#: listed in docs/devices.md): grouped/depthwise convolutions are priced as GEMMs, pooling,
#: normalisation, top-k and the optimizer update as elementwise ops, a kept top-k entry as a
#: top-k comparison.
EFFICIENCY_FALLBACK = {"gemm_grouped": "gemm", "pool": "elementwise", "norm": "elementwise",
                       "topk": "elementwise", "topk_kept": "topk", "optimizer": "elementwise"}


def resolve_efficiency(efficiency: Mapping[str, float], op_class: str) -> float:
    """The efficiency of ``op_class``: stated, else its fallback class's (EFFICIENCY_FALLBACK)."""
    while op_class not in efficiency:
        op_class = EFFICIENCY_FALLBACK[op_class]
    return efficiency[op_class]
ENERGY_MODES = ("active_power", "per_op")
CATEGORIES = ("gpu", "jetson", "phone", "cpu", "host")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
MODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_]*$")

#: Unit fields that are plain quantities (efficiency is a table of them).
UNIT_QUANTITIES = ("peak_flops", "mem_bandwidth_bytes_per_s", "kernel_overhead_s", "sparse_efficiency",
                   "idle_power_w", "active_power_w", "energy_per_flop_j", "energy_per_byte_j")
UNIT_REQUIRED = ("peak_flops", "mem_bandwidth_bytes_per_s", "kernel_overhead_s", "sparse_efficiency",
                 "idle_power_w")
ENERGY_MODE_FIELDS = {"active_power": ("active_power_w",), "per_op": ("energy_per_flop_j", "energy_per_byte_j")}
#: Fields whose value is a fraction in [0, 1].
FRACTION_FIELDS = ("sparse_efficiency",)
NETWORK_QUANTITIES = ("uplink_bytes_per_s", "downlink_bytes_per_s", "energy_per_bit_up_j",
                      "energy_per_bit_down_j", "base_power_w", "tail_time_s", "tail_power_w",
                      "promotion_time_s", "promotion_power_w")
NETWORK_POSITIVE = ("uplink_bytes_per_s", "downlink_bytes_per_s")


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

    def quantities(self) -> dict[str, Quantity]:
        """Every number of this unit by dotted field name (for completeness checks and display)."""
        out = {k: getattr(self, k) for k in UNIT_QUANTITIES if getattr(self, k) is not None}
        out.update({f"efficiency.{k}": v for k, v in self.efficiency.items()})
        return out

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d: dict[str, Any] = {k: v.to_json() for k, v in self.quantities().items() if "." not in k}
        d["efficiency"] = {k: v.to_json() for k, v in self.efficiency.items()}
        return d


@dataclass(frozen=True)
class PowerMode:
    """A named power mode (Jetson nvpmodel): per-unit field overrides."""

    name: str
    overrides: Mapping[str, Mapping[str, Quantity]]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {u: {k: q.to_json() for k, q in f.items()} for u, f in self.overrides.items()}


@dataclass(frozen=True)
class DeviceProfile:
    """The plain numbers of one unit in one mode: what the cost model consumes (floats only)."""

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

    def eff(self, op_class: str) -> float:
        """Achievable fraction of peak for an op class (unstated classes: EFFICIENCY_FALLBACK)."""
        return resolve_efficiency(self.efficiency, op_class)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"name": self.name, "device": self.device, "unit": self.unit, "mode": self.mode,
                "energy_mode": self.energy_mode, "peak_flops": self.peak_flops,
                "mem_bandwidth_bytes_per_s": self.mem_bandwidth_bytes_per_s,
                "kernel_overhead_s": self.kernel_overhead_s, "sparse_efficiency": self.sparse_efficiency,
                "idle_power_w": self.idle_power_w, "active_power_w": self.active_power_w,
                "energy_per_flop_j": self.energy_per_flop_j, "energy_per_byte_j": self.energy_per_byte_j,
                "efficiency": {k: self.eff(k) for k in OP_CLASSES}, "ram_bytes": self.ram_bytes}


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

    def profile(self, unit: str | None = None, mode: str | None = None) -> DeviceProfile:
        """Flatten one unit in one power mode into plain floats for the cost model."""
        u_name = unit or self.default_unit
        if u_name not in self.units:
            from ..errors import UnknownDeviceError

            raise UnknownDeviceError(f"device {self.name!r} has no unit {u_name!r}; units: "
                                     f"{', '.join(self.units)}")
        m_name = mode if mode is not None else self.default_mode
        u = self.units[u_name]
        if m_name is not None:
            if m_name not in self.modes:
                from ..errors import UnknownDeviceError

                known = ", ".join(self.modes) or "none"
                raise UnknownDeviceError(f"device {self.name!r} has no power mode {m_name!r}; modes: {known}")
            u = _apply_overrides(u, self.modes[m_name].overrides.get(u_name, {}))
        label = self.name if len(self.units) == 1 else f"{self.name}-{u_name}"
        if m_name is not None:
            label += f"@{m_name}"

        def val(q: Quantity | None) -> float:
            return float(q.value) if q is not None else 0.0

        return DeviceProfile(
            name=label, device=self.name, unit=u_name, mode=m_name, energy_mode=self.energy_mode,
            peak_flops=val(u.peak_flops), mem_bandwidth_bytes_per_s=val(u.mem_bandwidth_bytes_per_s),
            kernel_overhead_s=val(u.kernel_overhead_s), sparse_efficiency=val(u.sparse_efficiency),
            idle_power_w=val(u.idle_power_w),
            efficiency=MappingProxyType({k: float(q.value) for k, q in u.efficiency.items()}),
            ram_bytes=val(self.ram_bytes), active_power_w=val(u.active_power_w),
            energy_per_flop_j=val(u.energy_per_flop_j), energy_per_byte_j=val(u.energy_per_byte_j))

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
                "names": self.variant_names(), "notes": self.notes, "path": self.path}


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


# ----------------------------------------------------------------------------------------------
# parsing and validation


class _Ctx:
    """Parsing context: the file (for messages) and its named sources."""

    def __init__(self, where: str, sources: Mapping[str, Source]) -> None:
        self.where = where
        self.sources = sources

    def fail(self, path: str, msg: str) -> BadInputError:
        return BadInputError(f"{self.where}: field '{path}' {msg}")


def _parse_source(ctx: _Ctx, raw: Any, path: str) -> Source:
    if isinstance(raw, str):
        if raw not in ctx.sources:
            known = ", ".join(sorted(ctx.sources)) or "none defined"
            raise ctx.fail(path, f"names source {raw!r}, which is not in [sources] (known: {known})")
        return ctx.sources[raw]
    if not isinstance(raw, Mapping):
        raise ctx.fail(path, "must be a table {kind, ref, quote} or the key of a [sources] table")
    for key in ("kind", "ref", "quote"):
        if key not in raw:
            raise ctx.fail(f"{path}.{key}", "is missing")
        if not isinstance(raw[key], str):
            raise ctx.fail(f"{path}.{key}", "must be a string")
    unknown = sorted(set(raw) - {"kind", "ref", "quote"})
    if unknown:
        raise ctx.fail(f"{path}.{unknown[0]}", "is not a known field (kind, ref, quote)")
    if raw["kind"] not in SOURCE_KINDS:
        raise ctx.fail(f"{path}.kind", f"must be one of {', '.join(SOURCE_KINDS)}, got {raw['kind']!r}")
    if not raw["ref"].strip():
        raise ctx.fail(f"{path}.ref", "must not be empty")
    return Source(raw["kind"], raw["ref"], raw["quote"])


def _parse_quantity(ctx: _Ctx, raw: Any, path: str, *, fraction: bool = False,
                    positive: bool = False) -> Quantity:
    if not isinstance(raw, Mapping):
        raise ctx.fail(path, "must be a table {value = NUMBER, source = ...} (every number needs a source)")
    if "value" not in raw:
        raise ctx.fail(f"{path}.value", "is missing")
    if "source" not in raw:
        raise ctx.fail(f"{path}.source", "is missing (every number needs a source)")
    unknown = sorted(set(raw) - {"value", "source"})
    if unknown:
        raise ctx.fail(f"{path}.{unknown[0]}", "is not a known field (value, source)")
    v = raw["value"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise ctx.fail(f"{path}.value", f"must be a finite number, got {v!r}")
    v = float(v)
    if v < 0:
        raise ctx.fail(f"{path}.value", f"must be >= 0, got {v!r}")
    if positive and v <= 0:
        raise ctx.fail(f"{path}.value", f"must be > 0, got {v!r}")
    if fraction and v > 1:
        raise ctx.fail(f"{path}.value", f"must be in [0, 1], got {v!r}")
    return Quantity(v, _parse_source(ctx, raw["source"], f"{path}.source"))


_POSITIVE_UNIT_FIELDS = ("peak_flops", "mem_bandwidth_bytes_per_s")


def _parse_unit_field(ctx: _Ctx, key: str, raw: Any, path: str) -> Quantity:
    return _parse_quantity(ctx, raw, path, fraction=key in FRACTION_FIELDS,
                           positive=key in _POSITIVE_UNIT_FIELDS)


def _parse_efficiency(ctx: _Ctx, raw: Any, path: str, *, required: bool) -> dict[str, Quantity]:
    if not isinstance(raw, Mapping):
        raise ctx.fail(path, "must be a table of op class -> {value, source}")
    out = {}
    for k, v in raw.items():
        if k not in OP_CLASSES:
            raise ctx.fail(f"{path}.{k}", f"is not a known op class ({', '.join(OP_CLASSES)})")
        q = _parse_quantity(ctx, v, f"{path}.{k}", fraction=True)
        if q.value <= 0:
            raise ctx.fail(f"{path}.{k}.value", "must be > 0 (an efficiency of 0 means infinite time)")
        out[k] = q
    if required:
        for k in REQUIRED_OP_CLASSES:
            if k not in out:
                raise ctx.fail(f"{path}.{k}", "is missing")
    return out


def _parse_unit(ctx: _Ctx, name: str, raw: Any, energy_mode: str) -> ComputeUnit:
    path = f"units.{name}"
    if not isinstance(raw, Mapping):
        raise ctx.fail(path, "must be a table")
    known = set(UNIT_QUANTITIES) | {"efficiency"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ctx.fail(f"{path}.{unknown[0]}", f"is not a known unit field ({', '.join(sorted(known))})")
    for k in UNIT_REQUIRED + ENERGY_MODE_FIELDS[energy_mode] + ("efficiency",):
        if k not in raw:
            extra = f" (energy_mode = {energy_mode!r} needs it)" if k in ENERGY_MODE_FIELDS[energy_mode] else ""
            raise ctx.fail(f"{path}.{k}", f"is missing{extra}")
    kw: dict[str, Any] = {k: _parse_unit_field(ctx, k, raw[k], f"{path}.{k}") for k in UNIT_QUANTITIES if k in raw}
    kw["efficiency"] = MappingProxyType(_parse_efficiency(ctx, raw["efficiency"], f"{path}.efficiency",
                                                          required=True))
    return ComputeUnit(name=name, **kw)


def _parse_mode(ctx: _Ctx, name: str, raw: Any, units: Mapping[str, ComputeUnit]) -> PowerMode:
    path = f"modes.{name}"
    if not MODE_RE.match(name):
        raise ctx.fail(path, "has an invalid mode name (letters, digits, '.', '-', '_')")
    if not isinstance(raw, Mapping) or set(raw) - {"units"}:
        raise ctx.fail(path, "must hold only a 'units' table of per-unit overrides")
    per_unit = raw.get("units", {})
    if not isinstance(per_unit, Mapping):
        raise ctx.fail(f"{path}.units", "must be a table")
    overrides: dict[str, Mapping[str, Quantity]] = {}
    for un, fields_ in per_unit.items():
        upath = f"{path}.units.{un}"
        if un not in units:
            raise ctx.fail(upath, f"names a unit that the device lacks (units: {', '.join(units)})")
        if not isinstance(fields_, Mapping):
            raise ctx.fail(upath, "must be a table")
        ov: dict[str, Quantity] = {}
        for k, v in fields_.items():
            if k == "efficiency":
                for ek, eq in _parse_efficiency(ctx, v, f"{upath}.efficiency", required=False).items():
                    ov[f"efficiency.{ek}"] = eq
            elif k in UNIT_QUANTITIES:
                ov[k] = _parse_unit_field(ctx, k, v, f"{upath}.{k}")
            else:
                raise ctx.fail(f"{upath}.{k}", "is not a unit field that a power mode can override")
        overrides[un] = MappingProxyType(ov)
    return PowerMode(name, MappingProxyType(overrides))


def _apply_overrides(u: ComputeUnit, ov: Mapping[str, Quantity]) -> ComputeUnit:
    if not ov:
        return u
    eff = dict(u.efficiency)
    plain = {}
    for k, q in ov.items():
        if k.startswith("efficiency."):
            eff[k.split(".", 1)[1]] = q
        else:
            plain[k] = q
    return replace(u, efficiency=MappingProxyType(eff), **plain)


def _require_str(ctx: _Ctx, raw: Mapping[str, Any], key: str, *, choices: tuple[str, ...] | None = None,
                 default: str | None = None, pattern: re.Pattern[str] | None = None) -> str:
    if key not in raw:
        if default is not None:
            return default
        raise ctx.fail(key, "is missing")
    v = raw[key]
    if not isinstance(v, str) or not v:
        raise ctx.fail(key, f"must be a non-empty string, got {v!r}")
    if choices is not None and v not in choices:
        raise ctx.fail(key, f"must be one of {', '.join(choices)}, got {v!r}")
    if pattern is not None and not pattern.match(v):
        raise ctx.fail(key, f"has invalid characters ({v!r}; use lower-case letters, digits, '.', '-')")
    return v


def _parse_sources(ctx: _Ctx, raw: Any) -> dict[str, Source]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ctx.fail("sources", "must be a table of named sources")
    return {k: _parse_source(ctx, v, f"sources.{k}") for k, v in raw.items()}


def _check_schema(ctx: _Ctx, raw: Mapping[str, Any]) -> None:
    v = raw.get("schema", FILE_SCHEMA)
    if v != FILE_SCHEMA:
        raise ctx.fail("schema", f"is {v!r}; this zerofl-profiler reads device-file schema {FILE_SCHEMA}")


DEVICE_KEYS = ("schema", "name", "display_name", "category", "energy_mode", "default_unit", "default_mode",
               "ram_bytes", "sources", "units", "modes", "notes")


def parse_device(raw: Mapping[str, Any], where: str = "<device>") -> DeviceSpec:
    """Validate a parsed device TOML document; errors name the file and the dotted field."""
    ctx = _Ctx(where, {})
    _check_schema(ctx, raw)
    unknown = sorted(set(raw) - set(DEVICE_KEYS))
    if unknown:
        raise ctx.fail(unknown[0], f"is not a known device field ({', '.join(DEVICE_KEYS)})")
    ctx.sources = _parse_sources(ctx, raw.get("sources"))
    name = _require_str(ctx, raw, "name", pattern=NAME_RE)
    if "@" in name:
        raise ctx.fail("name", "must not contain '@' (that introduces a power mode)")
    display = _require_str(ctx, raw, "display_name", default=name)
    category = _require_str(ctx, raw, "category", choices=CATEGORIES)
    energy_mode = _require_str(ctx, raw, "energy_mode", choices=ENERGY_MODES)
    if "ram_bytes" not in raw:
        raise ctx.fail("ram_bytes", "is missing")
    ram = _parse_quantity(ctx, raw["ram_bytes"], "ram_bytes", positive=True)
    units_raw = raw.get("units")
    if not isinstance(units_raw, Mapping) or not units_raw:
        raise ctx.fail("units", "is missing (at least one [units.<name>] table)")
    units = {}
    for un, ur in units_raw.items():
        if not NAME_RE.match(un):
            raise ctx.fail(f"units.{un}", "has an invalid unit name (lower-case letters, digits, '.', '-')")
        units[un] = _parse_unit(ctx, un, ur, energy_mode)
    default_unit = _require_str(ctx, raw, "default_unit", default=next(iter(units)))
    if default_unit not in units:
        raise ctx.fail("default_unit", f"names unit {default_unit!r}, not one of {', '.join(units)}")
    modes_raw = raw.get("modes", {})
    if not isinstance(modes_raw, Mapping):
        raise ctx.fail("modes", "must be a table of power modes")
    modes = {mn: _parse_mode(ctx, mn, mr, units) for mn, mr in modes_raw.items()}
    default_mode = raw.get("default_mode")
    if default_mode is not None and default_mode not in modes:
        raise ctx.fail("default_mode", f"names mode {default_mode!r}, not one of {', '.join(modes) or 'none'}")
    if modes and default_mode is None:
        raise ctx.fail("default_mode", "is missing (a device with power modes must name its default)")
    notes = raw.get("notes", "")
    if not isinstance(notes, str):
        raise ctx.fail("notes", "must be a string")
    return DeviceSpec(name=name, display_name=display, category=category, energy_mode=energy_mode,
                      ram_bytes=ram, units=MappingProxyType(units), default_unit=default_unit,
                      modes=MappingProxyType(modes), default_mode=default_mode, notes=notes,
                      path=None if where.startswith("<") else where)


NETWORK_KEYS = ("schema", "name", "display_name", "sources", "notes") + NETWORK_QUANTITIES


def parse_network(raw: Mapping[str, Any], where: str = "<network>") -> NetworkSpec:
    """Validate a parsed network TOML document; errors name the file and the field."""
    ctx = _Ctx(where, {})
    _check_schema(ctx, raw)
    unknown = sorted(set(raw) - set(NETWORK_KEYS))
    if unknown:
        raise ctx.fail(unknown[0], f"is not a known network field ({', '.join(NETWORK_KEYS)})")
    ctx.sources = _parse_sources(ctx, raw.get("sources"))
    name = _require_str(ctx, raw, "name", pattern=NAME_RE)
    kw: dict[str, Any] = {}
    for k in NETWORK_QUANTITIES:
        if k not in raw:
            raise ctx.fail(k, "is missing")
        kw[k] = _parse_quantity(ctx, raw[k], k, positive=k in NETWORK_POSITIVE)
    notes = raw.get("notes", "")
    return NetworkSpec(name=name, display_name=_require_str(ctx, raw, "display_name", default=name),
                       notes=str(notes), path=None if where.startswith("<") else where, **kw)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; a missing or malformed file is a BadInputError naming it."""
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such device file: {p}")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{p}: malformed TOML ({exc})") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{p}: not a UTF-8 text file") from None
    except RecursionError:
        raise BadInputError(f"{p}: malformed TOML (nested too deeply)") from None


def load_device_file(path: str | Path) -> DeviceSpec:
    """Load and validate one device file."""
    return _parsed(parse_device, read_toml(path), str(path))


def load_network_file(path: str | Path) -> NetworkSpec:
    """Load and validate one network file."""
    return _parsed(parse_network, read_toml(path), str(path))


def _parsed(parse: Any, raw: Mapping[str, Any], where: str) -> Any:
    """A value of a type the parser did not expect (a list where a name belongs) is bad input, never a crash."""
    try:
        return parse(raw, where)
    except BadInputError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise BadInputError(f"{where}: a field has the wrong type ({type(exc).__name__}: {exc})") from None
