"""Former home of the device records and the TOML parser; kept as an import path.

The records live in :mod:`.records`, the parser and validator in :mod:`.devicefile`.
"""

from __future__ import annotations

from .devicefile import (
    DEVICE_KEYS,
    ENERGY_MODE_FIELDS,
    FILE_SCHEMA,
    MODE_RE,
    NAME_RE,
    NETWORK_KEYS,
    RANGES,
    UNIT_REQUIRED,
    load_device_file,
    load_network_file,
    parse_device,
    parse_network,
    read_toml,
)
from .records import (
    CATEGORIES,
    EFFICIENCY_FALLBACK,
    ENERGY_MODES,
    NETWORK_QUANTITIES,
    OP_CLASSES,
    PRECISIONS,
    REQUIRED_OP_CLASSES,
    SOURCE_KINDS,
    UNIT_QUANTITIES,
    ComputeUnit,
    DeviceProfile,
    DeviceSpec,
    NetworkSpec,
    PowerMode,
    Quantity,
    RuntimeProfile,
    Source,
    SparseEfficiencyCurve,
    resolve_efficiency,
)

__all__ = ["CATEGORIES", "DEVICE_KEYS", "EFFICIENCY_FALLBACK", "ENERGY_MODES", "ENERGY_MODE_FIELDS", "FILE_SCHEMA",
           "MODE_RE", "NAME_RE", "NETWORK_KEYS", "NETWORK_QUANTITIES", "OP_CLASSES", "PRECISIONS", "RANGES",
           "REQUIRED_OP_CLASSES", "SOURCE_KINDS", "UNIT_QUANTITIES", "UNIT_REQUIRED", "ComputeUnit", "DeviceProfile",
           "DeviceSpec", "NetworkSpec", "PowerMode", "Quantity", "RuntimeProfile", "Source", "SparseEfficiencyCurve",
           "load_device_file", "load_network_file", "parse_device", "parse_network", "read_toml",
           "resolve_efficiency"]
