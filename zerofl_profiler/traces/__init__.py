"""Versioned trace schema, crash-safe writer, validating readers, columnar loader, export (see schema.py);
the run directory's one owner (rundir.py) and its typed documents (layers.py, run.py)."""

from .columns import ClientColumns, load_columns
from .io import (
    JsonlWriter,
    iter_jsonl,
    read_client_records,
    read_layers,
    read_round_records,
    truncate_partial_tail,
)
from .layers import LayersDoc, LayerRow, read_layers_doc
from .run import RunData, load_run
from .rundir import RunDir, RunLockedError, StoredRun
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
    "LayersDoc", "LayerRow", "read_layers_doc", "RunDir", "RunLockedError", "StoredRun",
    "RunData", "load_run", "CONFIG_FILE", "FLOP_BLOCK_KEYS", "FLOP_KEYS", "GEMM_PHASES", "LAYERS_FILE", "ROUNDS_FILE",
    "SCHEMA_VERSION", "TRACE_FILE", "ClientColumns", "ClientRoundRecord", "EnergyBlock", "JsonlWriter", "RoundRecord",
    "TraceInfo", "empty_flops", "iter_jsonl", "load_columns", "read_client_records", "read_layers",
    "read_round_records", "truncate_partial_tail",
]
