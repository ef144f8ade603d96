"""The device-file and network-file format (TOML): parsing, validation and plausible ranges.

The format is a versioned contract (schemas 1 and 2; docs/devices.md is its reference). Every
numeric field is a table ``{value, source}`` where ``source`` is an inline table ``{kind, ref,
quote}`` or the key of a ``[sources.<key>]`` table in the same file. Every number must lie in the
physically plausible range of its field (:data:`RANGES`), so a typo such as ``1e308`` is a
one-line error naming the file and the dotted field instead of an ``inf`` in a report. Schema-2
fields (per-precision peaks, op-class precisions, runtime profiles, a saturating efficiency curve,
dynamic power, a sparse-efficiency curve) need ``schema = 2``; each is optional and its absence
prices exactly as schema 1 does.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from ..errors import BadInputError
from .gemm_algorithms import GEMM_ALGORITHMS
from .records import (
    CATEGORIES,
    DISPATCH_MODES, DISPATCH_UNITS,
    NAME_FIELDS,
    ENERGY_MODES,
    NETWORK_QUANTITIES,
    OP_CLASSES,
    PRECISIONS,
    REQUIRED_OP_CLASSES,
    SOURCE_KINDS,
    UNIT_QUANTITIES,
    ComputeUnit,
    DeviceSpec,
    NetworkSpec,
    PowerMode,
    Quantity,
    RuntimeProfile,
    Source,
    SparseEfficiencyCurve,
)

FILE_SCHEMA = 2
SCHEMAS = (1, 2)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
MODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_]*$")
RUNTIME_RE = re.compile(r"^[a-z0-9][a-z0-9.\-_]*$")

UNIT_REQUIRED = ("peak_flops", "mem_bandwidth_bytes_per_s", "kernel_overhead_s", "sparse_efficiency",
                 "idle_power_w")
ENERGY_MODE_FIELDS = {"active_power": ("active_power_w",), "per_op": ("energy_per_flop_j", "energy_per_byte_j")}
#: Unit keys that exist from schema 2 on.
SCHEMA2_UNIT_KEYS = ("peak_flops_tf32", "peak_flops_fp16", "peak_flops_bf16", "dynamic_power_w",
                     "sparse_efficiency_curve", "precision", "efficiency_curve", "default_runtime", "runtimes",
                     "dispatch", "dispatch_unit", "gemm_algorithm")


@dataclass(frozen=True)
class Range:
    """The plausible values of a field: ``lo <= v <= hi`` (``lo`` excluded when ``open_lo``)."""

    lo: float
    hi: float
    unit: str
    open_lo: bool = False

    def check(self, v: float) -> str | None:
        """Why ``v`` is out of range, or None."""
        if v > self.hi or v < self.lo or (self.open_lo and v == self.lo):
            lo = f"> {self.lo:g}" if self.open_lo else f">= {self.lo:g}"
            return f"must be {lo} and <= {self.hi:g} {self.unit}, got {v!r}".rstrip()
        return None


_PEAK = Range(1e3, 1e17, "FLOP/s")
_POWER = Range(0.0, 2e4, "W")
#: Plausible range of every numeric field (docs/devices.md lists them with their reasons).
RANGES: Mapping[str, Range] = MappingProxyType({
    "peak_flops": _PEAK, "peak_flops_tf32": _PEAK, "peak_flops_fp16": _PEAK, "peak_flops_bf16": _PEAK,
    "mem_bandwidth_bytes_per_s": Range(1e3, 1e15, "byte/s"),
    "kernel_overhead_s": Range(0.0, 1.0, "s"),
    "sparse_efficiency": Range(0.0, 1.0, ""),
    "idle_power_w": _POWER, "active_power_w": _POWER, "dynamic_power_w": _POWER,
    "energy_per_flop_j": Range(0.0, 1e-6, "J"), "energy_per_byte_j": Range(0.0, 1e-6, "J"),
    "efficiency": Range(1e-9, 1.0, ""),  # calibrate writes fitted efficiencies down to 1e-9
    "half_work_flops": Range(0.0, 1e15, "FLOP"),
    "ram_bytes": Range(1.0, 1e15, "byte"),
    "uplink_bytes_per_s": Range(1.0, 1e12, "byte/s"), "downlink_bytes_per_s": Range(1.0, 1e12, "byte/s"),
    "energy_per_bit_up_j": Range(0.0, 1e-3, "J"), "energy_per_bit_down_j": Range(0.0, 1e-3, "J"),
    "base_power_w": _POWER, "tail_power_w": _POWER, "promotion_power_w": _POWER,
    "tail_time_s": Range(0.0, 3600.0, "s"), "promotion_time_s": Range(0.0, 3600.0, "s"),
})


class _Ctx:
    """Parsing context: the file (for messages), its schema and its named sources."""

    def __init__(self, where: str, sources: Mapping[str, Source], schema: int = 1) -> None:
        self.where = where
        self.sources = sources
        self.schema = schema

    def fail(self, path: str, msg: str) -> BadInputError:
        return BadInputError(f"{self.where}: field '{path}' {msg}")

    def need_v2(self, path: str) -> None:
        if self.schema < 2:
            raise self.fail(path, "is a schema-2 field; set schema = 2 at the top of the file")


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


def _number(ctx: _Ctx, v: Any, path: str, rng: Range) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise ctx.fail(path, f"must be a finite number, got {v!r}")
    why = rng.check(float(v))
    if why:
        raise ctx.fail(path, why)
    return float(v)


def _parse_quantity(ctx: _Ctx, raw: Any, path: str, rng: Range) -> Quantity:
    if not isinstance(raw, Mapping):
        raise ctx.fail(path, "must be a table {value = NUMBER, source = ...} (every number needs a source)")
    if "value" not in raw:
        raise ctx.fail(f"{path}.value", "is missing")
    if "source" not in raw:
        raise ctx.fail(f"{path}.source", "is missing (every number needs a source)")
    unknown = sorted(set(raw) - {"value", "source"})
    if unknown:
        raise ctx.fail(f"{path}.{unknown[0]}", "is not a known field (value, source)")
    v = _number(ctx, raw["value"], f"{path}.value", rng)
    return Quantity(v, _parse_source(ctx, raw["source"], f"{path}.source"))


def _op_class_table(ctx: _Ctx, raw: Any, path: str, what: str, value: Callable[[Any, str], Any]) -> dict[str, Any]:
    """A table keyed by op class, each value parsed by ``value(raw, path)``."""
    if not isinstance(raw, Mapping):
        raise ctx.fail(path, f"must be a table of op class -> {what}")
    out = {}
    for k, v in raw.items():
        if k not in OP_CLASSES:
            raise ctx.fail(f"{path}.{k}", f"is not a known op class ({', '.join(OP_CLASSES)})")
        out[k] = value(v, f"{path}.{k}")
    return out


def _parse_efficiency(ctx: _Ctx, raw: Any, path: str, *, required: bool) -> dict[str, Quantity]:
    out = _op_class_table(ctx, raw, path, "{value, source}",
                          lambda v, p: _parse_quantity(ctx, v, p, RANGES["efficiency"]))
    if required:
        for k in REQUIRED_OP_CLASSES:
            if k not in out:
                raise ctx.fail(f"{path}.{k}", "is missing")
    return out


def _parse_efficiency_curve(ctx: _Ctx, raw: Any, path: str) -> Quantity:
    ctx.need_v2(path)
    if not isinstance(raw, Mapping) or set(raw) != {"half_work_flops"}:
        raise ctx.fail(path, "must be a table holding only half_work_flops = {value, source}")
    return _parse_quantity(ctx, raw["half_work_flops"], f"{path}.half_work_flops", RANGES["half_work_flops"])


def _parse_precision(ctx: _Ctx, raw: Any, path: str) -> dict[str, str]:
    ctx.need_v2(path)

    def one(v: Any, p: str) -> str:
        if v not in PRECISIONS:
            raise ctx.fail(p, f"must be one of {', '.join(PRECISIONS)}, got {v!r}")
        return str(v)

    return _op_class_table(ctx, raw, path, "precision", one)


#: schema-2 fields whose value is one name out of a fixed set (field -> its names)
CHOICE_FIELDS: dict[str, tuple[str, ...]] = dict(zip(NAME_FIELDS, (tuple(DISPATCH_MODES), tuple(DISPATCH_UNITS),
                                                                  tuple(GEMM_ALGORITHMS))))


def _parse_choice(ctx: _Ctx, raw: Mapping[str, Any], field: str, path: str) -> str | None:
    """``raw[field]`` checked against its names (CHOICE_FIELDS); None where the table does not set it."""
    if field not in raw:
        return None
    where, v, names = f"{path}.{field}", raw[field], CHOICE_FIELDS[field]
    ctx.need_v2(where)
    if v not in names:
        raise ctx.fail(where, f"must be one of {', '.join(names)}, got {v!r}")
    return str(v)


def _parse_sparse_curve(ctx: _Ctx, raw: Any, path: str) -> SparseEfficiencyCurve:
    ctx.need_v2(path)
    if not isinstance(raw, Mapping):
        raise ctx.fail(path, "must be a table {density = [...], efficiency = [...], source = ...}")
    for k in ("density", "efficiency", "source"):
        if k not in raw:
            raise ctx.fail(f"{path}.{k}", "is missing")
    unknown = sorted(set(raw) - {"density", "efficiency", "source"})
    if unknown:
        raise ctx.fail(f"{path}.{unknown[0]}", "is not a known field (density, efficiency, source)")
    lists = {}
    for k in ("density", "efficiency"):
        v = raw[k]
        if not isinstance(v, list) or not v:
            raise ctx.fail(f"{path}.{k}", "must be a non-empty list of numbers")
        lists[k] = tuple(_number(ctx, x, f"{path}.{k}[{i}]", Range(0.0, 1.0, "")) for i, x in enumerate(v))
    d, e = lists["density"], lists["efficiency"]
    if len(d) != len(e):
        raise ctx.fail(path, f"has {len(d)} densities but {len(e)} efficiencies (one each)")
    if any(b <= a for a, b in zip(d, d[1:])):
        raise ctx.fail(f"{path}.density", "must be strictly increasing")
    return SparseEfficiencyCurve(d, e, _parse_source(ctx, raw["source"], f"{path}.source"))


def _parse_runtime(ctx: _Ctx, name: str, raw: Any, path: str) -> RuntimeProfile:
    if not RUNTIME_RE.match(name):
        raise ctx.fail(path, "has an invalid runtime name (lower-case letters, digits, '.', '-', '_')")
    if not isinstance(raw, Mapping):
        raise ctx.fail(path, "must be a table")
    known = ("kernel_overhead_s", "efficiency", "efficiency_curve", "precision", *CHOICE_FIELDS)
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ctx.fail(f"{path}.{unknown[0]}", f"is not a field a runtime profile can set ({', '.join(known)})")
    return RuntimeProfile(
        name=name,
        kernel_overhead_s=_parse_quantity(ctx, raw["kernel_overhead_s"], f"{path}.kernel_overhead_s",
                                          RANGES["kernel_overhead_s"]) if "kernel_overhead_s" in raw else None,
        efficiency=MappingProxyType(_parse_efficiency(ctx, raw.get("efficiency", {}), f"{path}.efficiency",
                                                      required=False)),
        half_work_flops=_parse_efficiency_curve(ctx, raw["efficiency_curve"], f"{path}.efficiency_curve")
        if "efficiency_curve" in raw else None,
        precision=MappingProxyType(_parse_precision(ctx, raw.get("precision", {}), f"{path}.precision")),
        **{f: _parse_choice(ctx, raw, f, path) for f in CHOICE_FIELDS})


def _parse_unit(ctx: _Ctx, name: str, raw: Any, energy_mode: str) -> ComputeUnit:
    path = f"units.{name}"
    if not isinstance(raw, Mapping):
        raise ctx.fail(path, "must be a table")
    known = set(UNIT_QUANTITIES) | {"efficiency"} | set(SCHEMA2_UNIT_KEYS)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ctx.fail(f"{path}.{unknown[0]}", f"is not a known unit field ({', '.join(sorted(known))})")
    for k in SCHEMA2_UNIT_KEYS:
        if k in raw:
            ctx.need_v2(f"{path}.{k}")
    for k in UNIT_REQUIRED + ENERGY_MODE_FIELDS[energy_mode] + ("efficiency",):
        if k not in raw:
            extra = f" (energy_mode = {energy_mode!r} needs it)" if k in ENERGY_MODE_FIELDS[energy_mode] else ""
            raise ctx.fail(f"{path}.{k}", f"is missing{extra}")
    if "dynamic_power_w" in raw and energy_mode != "active_power":
        raise ctx.fail(f"{path}.dynamic_power_w", "only applies to energy_mode = 'active_power'")
    kw: dict[str, Any] = {k: _parse_quantity(ctx, raw[k], f"{path}.{k}", RANGES[k])
                          for k in UNIT_QUANTITIES if k in raw}
    kw["efficiency"] = MappingProxyType(_parse_efficiency(ctx, raw["efficiency"], f"{path}.efficiency",
                                                          required=True))
    if "efficiency_curve" in raw:
        kw["half_work_flops"] = _parse_efficiency_curve(ctx, raw["efficiency_curve"], f"{path}.efficiency_curve")
    if "sparse_efficiency_curve" in raw:
        kw["sparse_efficiency_curve"] = _parse_sparse_curve(ctx, raw["sparse_efficiency_curve"],
                                                            f"{path}.sparse_efficiency_curve")
    if "precision" in raw:
        kw["precision"] = MappingProxyType(_parse_precision(ctx, raw["precision"], f"{path}.precision"))
    for f in CHOICE_FIELDS:
        if f in raw:
            kw[f] = _parse_choice(ctx, raw, f, path)
    if "default_runtime" in raw:
        v = raw["default_runtime"]
        if not isinstance(v, str) or not RUNTIME_RE.match(v):
            raise ctx.fail(f"{path}.default_runtime", f"must be a runtime name (lower-case letters, digits, "
                                                      f"'.', '-', '_'), got {v!r}")
        kw["default_runtime"] = v
    runtimes_raw = raw.get("runtimes", {})
    if not isinstance(runtimes_raw, Mapping):
        raise ctx.fail(f"{path}.runtimes", "must be a table of runtime profiles")
    if kw.get("default_runtime") in runtimes_raw:
        raise ctx.fail(f"{path}.runtimes.{kw['default_runtime']}",
                       "is the default_runtime, which the unit's own fields describe")
    kw["runtimes"] = MappingProxyType({rn: _parse_runtime(ctx, rn, rr, f"{path}.runtimes.{rn}")
                                       for rn, rr in runtimes_raw.items()})
    return ComputeUnit(name=name, **kw)


#: Unit fields a power mode may override.
MODE_FIELDS = UNIT_QUANTITIES


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
            elif k == "efficiency_curve":
                ov["efficiency_curve.half_work_flops"] = _parse_efficiency_curve(ctx, v, f"{upath}.efficiency_curve")
            elif k in MODE_FIELDS:
                if k in SCHEMA2_UNIT_KEYS:
                    ctx.need_v2(f"{upath}.{k}")
                if k == "dynamic_power_w" and units[un].dynamic_power_w is None:
                    raise ctx.fail(f"{upath}.{k}", "overrides a field the unit does not state")
                ov[k] = _parse_quantity(ctx, v, f"{upath}.{k}", RANGES[k])
            else:
                raise ctx.fail(f"{upath}.{k}", "is not a unit field that a power mode can override")
        overrides[un] = MappingProxyType(ov)
    return PowerMode(name, MappingProxyType(overrides))


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


def _check_schema(ctx: _Ctx, raw: Mapping[str, Any], accepted: tuple[int, ...]) -> int:
    v = raw.get("schema", 1)
    if isinstance(v, bool) or v not in accepted:
        raise ctx.fail("schema", f"is {v!r}; this zerofl-profiler reads schema "
                                 f"{' and '.join(str(s) for s in accepted)}")
    return int(v)


DEVICE_KEYS = ("schema", "name", "display_name", "category", "energy_mode", "default_unit", "default_mode",
               "ram_bytes", "sources", "units", "modes", "notes")


def parse_device(raw: Mapping[str, Any], where: str = "<device>") -> DeviceSpec:
    """Validate a parsed device TOML document; errors name the file and the dotted field."""
    ctx = _Ctx(where, {})
    ctx.schema = _check_schema(ctx, raw, SCHEMAS)
    unknown = sorted(set(raw) - set(DEVICE_KEYS))
    if unknown:
        raise ctx.fail(unknown[0], f"is not a known device field ({', '.join(DEVICE_KEYS)})")
    ctx.sources = _parse_sources(ctx, raw.get("sources"))
    name = _require_str(ctx, raw, "name", pattern=NAME_RE)
    display = _require_str(ctx, raw, "display_name", default=name)
    category = _require_str(ctx, raw, "category", choices=CATEGORIES)
    energy_mode = _require_str(ctx, raw, "energy_mode", choices=ENERGY_MODES)
    if "ram_bytes" not in raw:
        raise ctx.fail("ram_bytes", "is missing")
    ram = _parse_quantity(ctx, raw["ram_bytes"], "ram_bytes", RANGES["ram_bytes"])
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
                      path=None if where.startswith("<") else where, schema=ctx.schema)


NETWORK_KEYS = ("schema", "name", "display_name", "sources", "notes") + NETWORK_QUANTITIES


def parse_network(raw: Mapping[str, Any], where: str = "<network>") -> NetworkSpec:
    """Validate a parsed network TOML document; errors name the file and the field."""
    ctx = _Ctx(where, {})
    _check_schema(ctx, raw, (1,))
    unknown = sorted(set(raw) - set(NETWORK_KEYS))
    if unknown:
        raise ctx.fail(unknown[0], f"is not a known network field ({', '.join(NETWORK_KEYS)})")
    ctx.sources = _parse_sources(ctx, raw.get("sources"))
    name = _require_str(ctx, raw, "name", pattern=NAME_RE)
    kw: dict[str, Any] = {}
    for k in NETWORK_QUANTITIES:
        if k not in raw:
            raise ctx.fail(k, "is missing")
        kw[k] = _parse_quantity(ctx, raw[k], k, RANGES[k])
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
