"""One set of units for the whole package.

Every quantity is stored in SI base units with the unit as a name suffix: ``energy_j``,
``time_s``, ``power_w``, ``flops`` (count of floating-point operations, 1 multiply-add = 2),
``bytes``. Conversions happen only here and only for display or for reading vendor counters.
"""

from __future__ import annotations

UJ_PER_J = 1_000_000  # RAPL counters are in microjoules
MJ_PER_J = 1_000  # NVML total-energy counters are in millijoules
MW_PER_W = 1_000  # NVML power readings are in milliwatts
BITS_PER_BYTE = 8
FLOPS_PER_MAC = 2  # the convention of torch.utils.flop_counter

DTYPE_BYTES = {
    "float32": 4,
    "float": 4,
    "float16": 2,
    "half": 2,
    "bfloat16": 2,
    "float64": 8,
    "double": 8,
    "int8": 1,
    "uint8": 1,
    "int32": 4,
    "int64": 8,
}


def dtype_bytes(name: str) -> int:
    """Bytes per element of a dtype given by name (``float32`` or ``torch.float32``)."""
    key = str(name).replace("torch.", "")
    try:
        return DTYPE_BYTES[key]
    except KeyError:
        from .errors import BadInputError

        raise BadInputError(f"unknown dtype {name!r}; known: {', '.join(sorted(DTYPE_BYTES))}") from None


def _scaled(value: float, unit: str, prefixes: list[tuple[float, str]]) -> str:
    for factor, prefix in prefixes:
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


_SI = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]


def fmt_flops(flops: float) -> str:
    """Human-readable FLOP count (decimal prefixes: GFLOP = 1e9 FLOP)."""
    return _scaled(float(flops), "FLOP", _SI)


def fmt_count(n: float, unit: str = "ops") -> str:
    """Human-readable count of non-FLOP operations (e.g. top-k comparisons), decimal prefixes."""
    return _scaled(float(n), unit, _SI)


def fmt_bytes(nbytes: float) -> str:
    """Human-readable byte count in SI units (1 MB = 1e6 bytes), as FL papers report upload MB."""
    return _scaled(float(nbytes), "B", _SI)


def fmt_time(seconds: float) -> str:
    """Human-readable duration."""
    s = float(seconds)
    if s >= 3600:
        return f"{s / 3600:.3g} h"
    if s >= 60:
        return f"{s / 60:.3g} min"
    if s >= 1 or s == 0:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"


def fmt_energy(joules: float) -> str:
    """Human-readable energy (J, kJ, MJ; Wh is left to reports)."""
    return _scaled(float(joules), "J", [(1e6, "M"), (1e3, "k")])


def fmt_memory(nbytes: float) -> str:
    """Memory capacity in binary units (GiB), as RAM and GPU memory are sold and reported."""
    pre = [(2.0**40, "Ti"), (2.0**30, "Gi"), (2.0**20, "Mi"), (2.0**10, "Ki")]
    return _scaled(float(nbytes), "B", pre)


#: Field-name suffix -> formatter, so a device field prints in its own unit (longest suffix first).
_FIELD_UNITS: tuple[tuple[str, "object"], ...] = (
    ("_bytes_per_s", lambda v: fmt_bytes(v) + "/s"),
    ("ram_bytes", fmt_memory),
    ("mem_bytes", fmt_memory),
    ("_flops", lambda v: fmt_flops(v) + "/s"),
    ("_bytes", fmt_bytes),
    ("_per_flop_j", lambda v: f"{v:.3g} J/FLOP"),
    ("_per_byte_j", lambda v: f"{v:.3g} J/B"),
    ("_per_bit_up_j", lambda v: f"{v:.3g} J/bit"),
    ("_per_bit_down_j", lambda v: f"{v:.3g} J/bit"),
    ("_s", fmt_time),
    ("_w", lambda v: f"{v:.3g} W"),
    ("_j", fmt_energy),
)


def fmt_field(name: str, value: float) -> str:
    """A quantity named with our unit suffixes, printed with its unit and 3 significant figures."""
    last = name.rsplit(".", 1)[-1]
    for suffix, fmt in _FIELD_UNITS:
        if last.endswith(suffix) or last == suffix.lstrip("_"):
            return fmt(float(value))  # type: ignore[operator]
    return f"{float(value):.3g}"
