"""Version-1 traces read as version 2: each line upgraded on reading, the run's constants gathered.

Version 1 repeated the engine, upload kind, encoding and every energy backend's skip reason in
each record and had no memory or accelerator fields. Upgrading moves the first three to a
:class:`~.schema.TraceInfo` (from config.toml, else the first record), keeps each record's own
skip reasons, and marks what version 1 did not record (``peak_mem_bytes`` null with
``mem_source = "none"``; a FLOP block without ``topk`` gets 0 and the flag ``topk-not-recorded``).
Version-1 engines trained on the CPU in float32 only, which is what the TraceInfo says.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import TraceFormatError
from .schema import READABLE_VERSIONS, SCHEMA_VERSION, TraceInfo

V1 = 1
#: Per-record keys of version 1 that version 2 keeps once per run.
RUN_CONSTANT_KEYS = ("engine", "upload", "encoding")
TOPK_NOT_RECORDED = "topk-not-recorded"


def upgrade_client(d: Mapping[str, Any]) -> dict[str, Any]:
    """A version-1 client_round dict as a version-2 one (input not modified)."""
    _expect_v1(d)
    out = {k: v for k, v in d.items() if k not in RUN_CONSTANT_KEYS}
    out["schema_version"] = SCHEMA_VERSION
    flags: list[str] = []
    flops = out.get("flops")
    if isinstance(flops, dict):
        out["flops"] = {kind: _upgrade_flops(block, flags) for kind, block in flops.items()}
    out["flags"] = flags
    return out


def _expect_v1(d: Mapping[str, Any]) -> None:
    v = d.get("schema_version")
    if v != V1:
        raise TraceFormatError(f"a version-{v} record in a version-{V1} trace" if v in READABLE_VERSIONS
                               else f"trace schema version {v!r} is not supported")


def _upgrade_flops(block: Any, flags: list[str]) -> Any:
    if not isinstance(block, dict) or "topk" in block:
        return block
    if TOPK_NOT_RECORDED not in flags:
        flags.append(TOPK_NOT_RECORDED)
    return {**block, "topk": 0}


def upgrade_round(d: Mapping[str, Any]) -> dict[str, Any]:
    """A version-1 round dict as a version-2 one."""
    _expect_v1(d)
    out = dict(d)
    out["schema_version"] = SCHEMA_VERSION
    return out


def trace_info_v1(config: Mapping[str, Any], first: Mapping[str, Any] | None) -> TraceInfo:
    """The run constants of a version-1 run: config.toml's keys, else the first record's."""
    rec = first or {}
    energy = rec.get("energy") if isinstance(rec.get("energy"), dict) else {}

    def pick(key: str, default: str) -> str:
        v = config.get(key, rec.get(key))
        return str(v) if v is not None else default

    return TraceInfo(engine=pick("engine", "inprocess"), upload=pick("upload", "dense"),
                     encoding=pick("encoding", "dense"), model=pick("model", "unknown"),
                     energy_skipped={str(k): str(v) for k, v in dict(energy.get("skipped") or {}).items()})


__all__ = ["RUN_CONSTANT_KEYS", "TOPK_NOT_RECORDED", "V1", "trace_info_v1", "upgrade_client",
           "upgrade_round"]
