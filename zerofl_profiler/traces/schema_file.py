"""``trace.schema.json``, generated from the record dataclasses (run as a module to rewrite it).

``python -m zerofl_profiler.traces.schema_file`` writes the file; a test fails when the file and
:func:`build_schema` differ, so the JSON Schema can never drift from the reader.
``trace.v1.schema.json`` is the frozen contract of version-1 traces (read through the upgrader).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .schema import (
    ESTIMATE_SOURCES,
    MEASURED_SOURCES,
    SCHEMA_VERSION,
    ClientRoundRecord,
    EnergyBlock,
    FlopBlock,
    FlopCounts,
    LayerDensity,
    RoundRecord,
    TraceInfo,
)
from .typespec import json_schema

SCHEMA_PATH = Path(__file__).with_name("trace.schema.json")
#: Names of the JSON Schema definitions (those of version 1 where the object existed there).
DEF_NAMES: dict[type, str] = {ClientRoundRecord: "client_round", RoundRecord: "round", EnergyBlock: "energy",
                              FlopBlock: "flop_block", FlopCounts: "flops", LayerDensity: "layer_density",
                              TraceInfo: "trace_table"}


def build_schema() -> dict[str, Any]:
    """The JSON Schema of trace.jsonl / rounds.jsonl lines and of config.toml's [trace] table."""
    defs: dict[str, Any] = {}
    for cls in (ClientRoundRecord, RoundRecord, TraceInfo):
        json_schema(cls, defs, DEF_NAMES)
    # the one rule that spans fields: measured sources in `energy`, estimates in `energy_estimate`
    props = defs["client_round"]["properties"]
    props["energy"] = {"allOf": [props["energy"], {"properties": {"source": {"enum": list(MEASURED_SOURCES)}}}]}
    props["energy_estimate"] = {"anyOf": [{"type": "null"}, {"allOf": [
        {"$ref": "#/$defs/energy"}, {"properties": {"source": {"enum": list(ESTIMATE_SOURCES)}}}]}]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"zerofl-profiler/trace/v{SCHEMA_VERSION}",
        "title": f"zerofl-profiler trace records, schema version {SCHEMA_VERSION}",
        "description": "One JSON object per line: trace.jsonl holds ClientRoundRecord lines, rounds.jsonl "
                       "RoundRecord lines; config.toml's [trace] table is a TraceInfo. Generated from "
                       "zerofl_profiler/traces/schema.py by zerofl_profiler.traces.schema_file.",
        "oneOf": [{"$ref": "#/$defs/client_round"}, {"$ref": "#/$defs/round"}],
        "$defs": defs,
    }


def render() -> str:
    """The file's exact text."""
    return json.dumps(build_schema(), indent=1) + "\n"


def main() -> None:
    """Rewrite trace.schema.json from the dataclasses."""
    from .atomic import atomic_write

    atomic_write(SCHEMA_PATH, render())
    print(SCHEMA_PATH)


if __name__ == "__main__":
    main()
