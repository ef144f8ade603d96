"""Versioned trace schema, crash-safe writer and validating reader (see schema.py)."""

from .io import (
    JsonlWriter,
    iter_jsonl,
    read_client_records,
    read_layers,
    read_round_records,
    truncate_partial_tail,
)
from .run import RunData, load_run
from .schema import (
    CONFIG_FILE,
    FLOP_KEYS,
    GEMM_PHASES,
    LAYERS_FILE,
    ROUNDS_FILE,
    SCHEMA_VERSION,
    TRACE_FILE,
    ClientRoundRecord,
    EnergyBlock,
    RoundRecord,
    empty_flops,
)

__all__ = [
    "RunData", "load_run", "CONFIG_FILE", "FLOP_KEYS", "GEMM_PHASES", "LAYERS_FILE", "ROUNDS_FILE", "SCHEMA_VERSION",
    "TRACE_FILE", "ClientRoundRecord", "EnergyBlock", "JsonlWriter", "RoundRecord", "empty_flops",
    "iter_jsonl", "read_client_records", "read_layers", "read_round_records", "truncate_partial_tail",
]
