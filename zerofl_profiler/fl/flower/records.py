"""A trace record in and out of Flower's typed records, losing nothing on the way.

Every numeric leaf of a :class:`ClientRoundRecord` (FLOPs by phase, densities, bytes, wall/CPU
time, energy joules, ...) travels as a Flower *metric* under a ``/``-joined path
(``flops/sparse/forward``, ``densities/layer1.0.conv1/weight``, ``energy/total_j``); everything
else (ids as text, energy source and method, status) travels as one JSON *skeleton* string in a
config record. The server joins the two back into the very record the client built, so the
Flower engine writes the same trace lines as the in-process one. Pure Python: no flwr here.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Union

from ...traces.schema import ClientRoundRecord

SEP = "/"
MetricValue = Union[int, float, list[int], list[float]]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_metric(v: Any) -> bool:
    """What a Flower MetricRecord holds: a number or a non-empty list of one numeric type."""
    if _is_number(v):
        return True
    if isinstance(v, list) and v and all(_is_number(x) for x in v):
        return len({type(x) for x in v}) == 1
    return False


def _split(obj: Any, path: tuple[str, ...], metrics: dict[str, MetricValue]) -> Any:
    """Move numeric leaves into ``metrics``; return what is left (``None`` marks a moved leaf)."""
    if isinstance(obj, dict):
        if any(SEP in str(k) or not isinstance(k, str) for k in obj):
            return obj  # a key we could not address: keep the whole branch in the skeleton
        rest: dict[str, Any] = {}
        for k, v in obj.items():
            if _is_metric(v):
                metrics[SEP.join(path + (k,))] = list(v) if isinstance(v, list) else v
            else:
                rest[k] = _split(v, path + (k,), metrics)
        return rest
    return obj


def split_record(record: ClientRoundRecord) -> tuple[dict[str, MetricValue], str]:
    """The record as (metrics for a MetricRecord, JSON skeleton for a ConfigRecord)."""
    metrics: dict[str, MetricValue] = {}
    skeleton = _split(record.to_dict(), (), metrics)
    return metrics, json.dumps(skeleton, allow_nan=False, separators=(",", ":"))


def join_record(metrics: Mapping[str, Any], skeleton: str) -> ClientRoundRecord:
    """Rebuild (and validate) the client's record from its metrics and skeleton."""
    d = json.loads(skeleton)
    for key, value in metrics.items():
        parts = key.split(SEP)
        node = d
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = list(value) if isinstance(value, (list, tuple)) else value
    return ClientRoundRecord.from_dict(d)


def sum_metrics(all_metrics: list[Mapping[str, Any]], prefixes: tuple[str, ...]) -> dict[str, MetricValue]:
    """Per key, the SUM over clients of every scalar metric under ``prefixes`` (FLOPs, bytes, time).

    Flower's default aggregation is a sample-weighted mean, which is wrong for totals.
    """
    out: dict[str, Any] = {}
    for m in all_metrics:
        for k, v in m.items():
            if _is_number(v) and k.startswith(prefixes):
                out[k] = out.get(k, 0) + v
    return out
