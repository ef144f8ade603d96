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
    """Human-readable byte count (binary prefixes: 1 MiB = 2**20 bytes)."""
    pre = [(2.0**40, "Ti"), (2.0**30, "Gi"), (2.0**20, "Mi"), (2.0**10, "Ki")]
    return _scaled(float(nbytes), "B", pre)


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
