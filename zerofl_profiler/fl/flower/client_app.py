"""The Flower ClientApp: one SuperNode = one client partition, trained by the engine's own client code.

A train instruction carries the dense global model, the run config (TOML text), the round and
the client id the server's seeded sampler drew. The handler calls ``fl.client.train_client``
(the same function the in-process engine calls) and replies with the encoded upload as Flower
arrays (indices + values per layer), the record's numeric figures as metrics, and the rest of the
record as a JSON skeleton. An exception becomes an error reply the server records as a failed
client; a client that diverged replies with its failed record (and no upload), as in-process.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import replace
from functools import lru_cache
from typing import Any, Callable

from .extra import require_flower
from . import protocol as P

require_flower(simulation=False)

from flwr.app import ConfigRecord, Context, Error, Message, MetricRecord, RecordDict  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402

from ...config import RunConfig  # noqa: E402
from ...power import Meter  # noqa: E402
from ...power.host_activity import host_activity  # noqa: E402
from .arrays import arrays_to_state, upload_to_records  # noqa: E402
from .records import split_record  # noqa: E402

#: train_client's signature (tests pass a stand-in that fails on purpose)
TrainFn = Callable[..., Any]

_LOCK = threading.Lock()  # one training at a time per process: the worker model is shared


@lru_cache(maxsize=2)
def _run_config(toml_text: str) -> RunConfig:
    """The RunConfig the server sent (parsed once per process)."""
    import tomllib

    from ...config import from_mapping

    return from_mapping(tomllib.loads(toml_text))


@lru_cache(maxsize=2)
def _client_datasets(toml_text: str) -> list[Any]:
    """Every client's partition, built exactly as the in-process engine builds them (once per process)."""
    from ..engine import load_run_data

    _, _, clients, _ = load_run_data(_run_config(toml_text))
    return clients


_METERS: dict[str, Meter] = {}


def _meter(cfg: RunConfig) -> Meter:
    """One energy meter per process and backend, as the in-process engine makes it."""
    from ..engine import make_meter_for

    if cfg.energy not in _METERS:
        _METERS[cfg.energy] = make_meter_for(cfg)[0]
    return _METERS[cfg.energy]


def _node_partition(context: Context) -> int | None:
    v = context.node_config.get(P.PARTITION_ID)
    return None if v is None else int(v)


def _fix_threads(n: int) -> None:
    """Same intra-op thread count as the in-process engine's client, whatever Ray set."""
    import torch

    if n > 0 and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def handle_train(msg: Message, context: Context, train_fn: TrainFn | None = None) -> Message:
    """Train the requested client on this node and reply with upload + record (or an error)."""
    try:
        conf = msg.content[P.TRAIN_CONFIG]
        toml_text = str(conf[P.RUN_CONFIG])
        rnd, cid = int(conf[P.ROUND]), int(conf[P.CLIENT_ID])
        mine = _node_partition(context)
        if mine is not None and mine != cid:
            return Message(Error(P.ERR_WRONG_PARTITION, f"node holds partition {mine}, asked for client {cid}"),
                           reply_to=msg)
        cfg = _run_config(toml_text)
        global_state = arrays_to_state(msg.content[P.GLOBAL_ARRAYS])
        if train_fn is None:
            from ..client import train_client as train_fn
        with _LOCK:
            _fix_threads(int(conf.get(P.THREADS, 0)))
            data = _client_datasets(toml_text)[cid]
            # SuperNodes on one machine train at once and share its energy counters: find out
            with host_activity() as activity:
                result = train_fn(global_state, data, cfg, rnd, cid, _meter(cfg),
                                  lr=cfg.lr_for_round(rnd), run_id=str(conf.get(P.RUN_ID, "")))
        rec = result.record  # the run's [trace] table says engine = "flower"
        if rec.energy.source != "none":
            shared = conf.get(P.ATTRIBUTION) == "shared" or activity.shared is True
            flags = rec.energy.flags + ((activity.reason,) if activity.shared is None and activity.reason else ())
            rec = replace(rec, energy=replace(rec.energy, attribution="shared" if shared else rec.energy.attribution,
                                              flags=flags))
        metrics, skeleton = split_record(rec)
        metrics["num-examples"] = int(rec.samples)  # Flower's conventional weight key
        content: dict[str, Any] = {P.METRICS: MetricRecord(metrics), P.RECORD: ConfigRecord({"skeleton": skeleton})}
        if result.upload is not None:
            arrays, meta = upload_to_records(result.upload)
            content[P.UPLOAD_ARRAYS] = arrays
            content[P.UPLOAD_META] = meta
        return Message(RecordDict(content), reply_to=msg)
    except Exception as exc:  # any failure is the server's to record, not this node's to die of
        reason = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc(limit=3).strip().splitlines()
        return Message(Error(P.ERR_CLIENT_FAILED, reason + (f" [{tb[-2].strip()}]" if len(tb) > 1 else "")),
                       reply_to=msg)


def handle_query(msg: Message, context: Context) -> Message:
    """Tell the server which partition this node holds (the sampler works on partition ids)."""
    pid = _node_partition(context)
    nparts = context.node_config.get(P.NUM_PARTITIONS)
    info = {P.PARTITION_ID: -1 if pid is None else pid, P.NUM_PARTITIONS: -1 if nparts is None else int(nparts)}
    return Message(RecordDict({P.NODE_INFO: ConfigRecord(info)}), reply_to=msg)


def make_client_app(train_fn: TrainFn | None = None) -> ClientApp:
    """The ClientApp; ``train_fn`` defaults to ``fl.client.train_client`` (tests inject failures)."""
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        return handle_train(msg, context, train_fn)

    @app.query()
    def query(msg: Message, context: Context) -> Message:
        return handle_query(msg, context)

    return app


__all__ = ["make_client_app", "handle_train", "handle_query"]
