"""ZeroFL on Flower's round loop: a FedAvg subclass whose hooks call OUR sampler, aggregation and records.

Flower's ``Strategy.start`` owns the loop (configure_train -> send -> aggregate_train -> evaluate);
this class fills the hooks so the Flower engine does exactly what the in-process engine does:
the seeded ``fl.sampling.sample_clients`` picks the round's clients (by partition id, mapped to
whichever SuperNode holds it), replies are turned back into the engine's ClientResults in the
sampled order, and ``RunContext.record_client`` / ``finish_round`` write the trace, aggregate
with ``fl.aggregate`` and evaluate with ``fl.server.evaluate_modes``. Federated evaluation is off
(the server evaluates the global model, as in-process).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from .extra import require_flower

require_flower(simulation=False)

from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict  # noqa: E402
from flwr.serverapp import Grid  # noqa: E402
from flwr.serverapp.strategy import FedAvg  # noqa: E402

from ...config import RunConfig  # noqa: E402

if TYPE_CHECKING:
    from ..engine import RunContext
from ...traces.schema import ClientRoundRecord, empty_flops  # noqa: E402
from ..client import ClientResult, gemm_keys  # noqa: E402
from ..sampling import sample_clients  # noqa: E402
from ..worker import state_nbytes  # noqa: E402
from . import protocol as P  # noqa: E402
from .arrays import records_to_upload, state_to_arrays  # noqa: E402
from .records import join_record, sum_metrics  # noqa: E402

#: Round totals Flower's history keeps: sums over clients (not Flower's weighted means).
SUMMED = ("flops/", "bytes_", "samples", "steps", "wall_time_s", "cpu_time_s", "energy/total_j")


@dataclass
class RoundState:
    """What configure_train decided, for aggregate_train to check the replies against."""

    round: int
    sampled: list[int]
    sent: dict[int, int]  # node id -> client id
    #: the instructions as sent: the grid stamps each with its message id when it pushes it, and a
    #: reply (the SuperLink's own "node unavailable" included) names the id it answers
    outgoing: list[tuple[Message, int]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def client_of(self, reply: Message) -> int | None:
        """The client a reply is for: by the message it answers, else by its sender node."""
        by_message = {m.metadata.message_id: cid for m, cid in self.outgoing if m.metadata.message_id}
        cid = by_message.get(reply.metadata.reply_to_message_id)
        return cid if cid is not None else self.sent.get(reply.metadata.src_node_id)


class ZeroFLFedAvg(FedAvg):
    """FedAvg's message plumbing with ZeroFL's sampler, sparse uploads and trace records."""

    def __init__(self, ctx: RunContext, partition_nodes: Mapping[int, int], *, attribution: str = "exclusive",
                 torch_threads: int = 1, on_event: Callable[..., None] | None = None) -> None:
        super().__init__(fraction_train=1.0, fraction_evaluate=1.0, min_train_nodes=0, min_evaluate_nodes=0,
                         min_available_nodes=0, arrayrecord_key=P.GLOBAL_ARRAYS, configrecord_key=P.TRAIN_CONFIG)
        self.ctx = ctx
        self.partition_nodes = dict(partition_nodes)
        self.attribution = attribution
        self.torch_threads = int(torch_threads)
        self.on_event = on_event or (lambda *a, **k: None)
        self.round_offset = ctx.start_round - 1  # Flower counts from 1 on every start(); we resume
        self._cfg_toml = _toml_text(ctx.cfg)
        self._gemm_keys = gemm_keys(ctx.worker)
        self._state: RoundState | None = None

    def summary(self) -> None:
        """Nothing to add to Flower's log: the run's config.toml says everything."""

    # ------------------------------------------------------------------ client side of a round
    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        """Send the global model to the clients OUR seeded sampler drew for this round."""
        cfg = self.ctx.cfg
        rnd = self.round_offset + server_round
        sampled = sample_clients(cfg.seed, rnd, cfg.clients, cfg.clients_per_round)
        global_arrays = state_to_arrays(self.ctx.global_state)
        msgs, sent, outgoing = [], {}, []
        for cid in sampled:
            node = self.partition_nodes.get(cid)
            if node is None:
                continue  # recorded as failed (no SuperNode holds it) in aggregate_train
            conf = ConfigRecord({P.RUN_CONFIG: self._cfg_toml, P.ROUND: rnd, P.CLIENT_ID: cid,
                                 P.RUN_ID: self.ctx.run_id, P.ATTRIBUTION: self.attribution,
                                 P.THREADS: self.torch_threads})
            msg = Message(RecordDict({P.GLOBAL_ARRAYS: global_arrays, P.TRAIN_CONFIG: conf}),
                          dst_node_id=node, message_type=MessageType.TRAIN, group_id=str(rnd))
            msgs.append(msg)
            outgoing.append((msg, cid))
            sent[node] = cid
        self._state = RoundState(rnd, sampled, sent, outgoing)
        return msgs

    def configure_evaluate(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                           grid: Grid) -> Iterable[Message]:
        """No federated evaluation: the server evaluates the global model, as the in-process engine does."""
        return []

    # ------------------------------------------------------------------ server side of a round
    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Record every sampled client (ok or failed), aggregate with OUR code, evaluate, write the round."""
        st = self._state
        assert st is not None and st.round == self.round_offset + server_round
        by_client: dict[int, Message] = {}
        for msg in replies:
            cid = st.client_of(msg)
            if cid is not None and (cid not in by_client or by_client[cid].has_error()):
                by_client[cid] = msg
        results: list[ClientResult] = []
        metrics: list[Mapping[str, Any]] = []
        for i, cid in enumerate(st.sampled):
            res, m = self._result(st, cid, by_client.get(cid))
            results.append(res)
            metrics.append(m)
            self.ctx.record_client(res)  # raises TrainingError under on_client_error = "stop"
            self.on_event("client", st.round, cid, i + 1, len(st.sampled), res.record.status,
                          error=res.record.error)
        rec = self.ctx.finish_round(st.round, st.sampled, results, time.perf_counter() - st.started,
                                    engine="flower")
        self.on_event("round", st.round, accuracy=rec.test_accuracy, loss=rec.test_loss)
        return state_to_arrays(self.ctx.global_state), MetricRecord(sum_metrics(metrics, SUMMED))

    def _result(self, st: RoundState, cid: int, msg: Message | None) -> tuple[ClientResult, Mapping[str, Any]]:
        """One sampled client's reply as the engine's ClientResult (a failed record when it has none)."""
        if cid not in st.sent.values():
            return self._failed(st, cid, f"no SuperNode holds partition {cid}", downloaded=False), {}
        if msg is None:
            return self._failed(st, cid, "no reply within the round timeout"), {}
        if msg.has_error():
            return self._failed(st, cid, f"client error {msg.error.code}: {msg.error.reason}"), {}
        try:
            metrics = {k: v for k, v in msg.content[P.METRICS].items() if k != "num-examples"}
            record = join_record(metrics, str(msg.content[P.RECORD]["skeleton"]))
            if record.client_id != cid or record.round != st.round:
                raise ValueError(f"reply is for client {record.client_id} round {record.round}")
            upload = None
            if P.UPLOAD_ARRAYS in msg.content.array_records:
                upload = records_to_upload(msg.content[P.UPLOAD_ARRAYS], msg.content[P.UPLOAD_META],
                                           self.ctx.global_state, self._gemm_keys)
            return ClientResult(upload, record, record.train_loss), metrics
        except Exception as exc:  # a malformed reply is that client's failure, not the run's
            return self._failed(st, cid, f"unreadable reply: {type(exc).__name__}: {exc}"), {}

    def _failed(self, st: RoundState, cid: int, error: str, downloaded: bool = True) -> ClientResult:
        """The record of a client that sent nothing usable: no steps, no upload, the reason."""
        cfg, gs = self.ctx.cfg, self.ctx.global_state
        dense = state_nbytes(gs)
        rec = ClientRoundRecord(
            run_id=self.ctx.run_id, round=st.round, client_id=int(cid), samples=len(self.ctx.clients[cid]),
            steps=0, batch_sizes=[], densities={}, flops={"dense": empty_flops(), "sparse": empty_flops()},
            bytes_up=0, bytes_up_dense=dense, bytes_down=dense if downloaded else 0, wall_time_s=0.0,
            cpu_time_s=0.0, status="failed", error=error, lr=cfg.lr_for_round(st.round), timestamp=time.time())
        return ClientResult(None, rec, None)


def _toml_text(cfg: RunConfig) -> str:
    """The run config as TOML text (what travels to every client)."""
    return cfg.to_toml_text()
