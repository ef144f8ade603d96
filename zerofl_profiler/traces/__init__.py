"""Versioned trace schema, crash-safe writer and validating reader (see schema.py); the run
directory's one owner (rundir.py) and its typed documents (layers.py, run.py)."""

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
    "LayersDoc", "LayerRow", "read_layers_doc", "RunDir", "RunLockedError", "StoredRun", "RunData", "load_run", "CONFIG_FILE", "FLOP_KEYS", "GEMM_PHASES", "LAYERS_FILE", "ROUNDS_FILE", "SCHEMA_VERSION",
    "TRACE_FILE", "ClientRoundRecord", "EnergyBlock", "JsonlWriter", "RoundRecord", "empty_flops",
    "iter_jsonl", "read_client_records", "read_layers", "read_round_records", "truncate_partial_tail",
]
