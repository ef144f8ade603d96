"""Versioned trace schema, crash-safe writer, validating readers, columnar loader, export (see schema.py)."""

from .columns import ClientColumns, load_columns
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
    FLOP_BLOCK_KEYS,
    FLOP_KEYS,
    GEMM_PHASES,
    LAYERS_FILE,
    ROUNDS_FILE,
    SCHEMA_VERSION,
    TRACE_FILE,
    ClientRoundRecord,
    EnergyBlock,
    RoundRecord,
    TraceInfo,
    empty_flops,
)

__all__ = [
    "RunData", "load_run", "CONFIG_FILE", "FLOP_BLOCK_KEYS", "FLOP_KEYS", "GEMM_PHASES", "LAYERS_FILE", "ROUNDS_FILE",
    "SCHEMA_VERSION", "TRACE_FILE", "ClientColumns", "ClientRoundRecord", "EnergyBlock", "JsonlWriter", "RoundRecord",
    "TraceInfo", "empty_flops", "iter_jsonl", "load_columns", "read_client_records", "read_layers",
    "read_round_records", "truncate_partial_tail",
]
