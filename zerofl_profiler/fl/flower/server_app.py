"""The Flower ServerApp: set up the same run directory as in-process, find the SuperNodes, run the rounds.

Two ways in: ``run_flower`` builds the app around a RunConfig it already holds (simulation), and
``flwr run flower_app`` builds it from the app's run config (``config`` = a RunConfig TOML on the
SuperLink machine, ``out-dir``, optional ``rounds``/``seed`` overrides). Either way the set-up is
``fl.engine.setup_run`` (config.toml with engine = "flower", layers.json, the initial model from
the run seed), and the rounds are ``ZeroFLFedAvg.start`` on Flower's own loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .extra import require_flower
from . import protocol as P

require_flower(simulation=False)

from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict  # noqa: E402
from flwr.serverapp import Grid, ServerApp  # noqa: E402

from ...config import RunConfig  # noqa: E402
from ...errors import ConfigError, ZeroflError  # noqa: E402
from ...power import NullMeter  # noqa: E402
from .arrays import state_to_arrays  # noqa: E402
from .strategy import ZeroFLFedAvg  # noqa: E402

#: how long the ServerApp waits for every SuperNode to answer; it stops waiting once all have, so a
#: loaded machine (Ray actors starting on 2 busy cores took over 60 s) costs only the time it needs
DEFAULT_WAIT_NODES_S = 120.0
DEFAULT_ROUND_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class ServerOptions:
    """How the ServerApp runs: where, what, and how long it waits for nodes and replies."""

    cfg: RunConfig  # engine = "flower"
    out_dir: str
    resume: bool = False
    attribution: str = "exclusive"
    torch_threads: int = 1
    wait_nodes_s: float = DEFAULT_WAIT_NODES_S
    round_timeout_s: float = DEFAULT_ROUND_TIMEOUT_S
    on_event: Callable[..., None] | None = None


def options_from_run_config(run_config: Mapping[str, Any]) -> ServerOptions:
    """Options of a `flwr run` (the app's [tool.flwr.app.config] plus -c overrides)."""
    path = str(run_config.get("config", "") or "")
    cfg = RunConfig.from_toml(path) if path else RunConfig()
    changes: dict[str, Any] = {"engine": "flower"}
    for key in ("rounds", "seed"):
        v = int(run_config.get(key, -1))
        if v >= 0:
            changes[key] = v
    cfg = cfg.with_updates(**changes)
    # the clients train with the run's own thread count, so the config.toml the run records is what they used
    return ServerOptions(cfg=cfg, out_dir=str(run_config.get("out-dir", "runs/flower")),
                         resume=bool(run_config.get("resume", False)), torch_threads=int(cfg.threads),
                         wait_nodes_s=float(run_config.get("wait-nodes-s", DEFAULT_WAIT_NODES_S)),
                         round_timeout_s=float(run_config.get("round-timeout-s", DEFAULT_ROUND_TIMEOUT_S)))


def discover_partitions(grid: Grid, num_clients: int, wait_s: float, poll_s: float = 0.5) -> dict[int, int]:
    """partition id -> node id, asking each new node which partition it holds, until all are seen."""
    found: dict[int, int] = {}
    asked: set[int] = set()
    deadline = time.monotonic() + max(0.0, wait_s)
    while True:
        new = [n for n in grid.get_node_ids() if n not in asked]
        if new:
            msgs = [Message(RecordDict({P.NODE_INFO: ConfigRecord({})}), dst_node_id=n,
                            message_type=MessageType.QUERY) for n in new]
            for reply in grid.send_and_receive(msgs, timeout=max(5.0, wait_s)):
                node = reply.metadata.src_node_id
                asked.add(node)
                if reply.has_error():
                    continue
                pid = int(reply.content[P.NODE_INFO][P.PARTITION_ID])
                if pid < 0 or pid >= num_clients:
                    raise ConfigError(f"SuperNode {node} holds partition-id {pid}, outside 0..{num_clients - 1} "
                                      f"(start each SuperNode with --node-config 'partition-id=I "
                                      f"num-partitions={num_clients}')")
                if pid in found and found[pid] != node:
                    raise ConfigError(f"two SuperNodes claim partition-id {pid} ({found[pid]} and {node})")
                found[pid] = node
        if len(found) >= num_clients or time.monotonic() >= deadline:
            return found
        time.sleep(poll_s)


def run_server(grid: Grid, opts: ServerOptions) -> None:
    """Set up (or reopen) the run directory and run the remaining rounds through Flower's loop."""
    from ..engine import setup_run

    cfg = opts.cfg
    ctx = setup_run(cfg, opts.out_dir, opts.resume, NullMeter("the server does not train"))
    try:
        if ctx.start_round > cfg.rounds:
            return
        nodes = discover_partitions(grid, cfg.clients, opts.wait_nodes_s)
        if not nodes:
            raise ZeroflError(f"no SuperNode answered within {opts.wait_nodes_s:g} s; nothing to train on")
        if opts.on_event:
            opts.on_event("start", ctx.start_round, run_id=ctx.run_id, run_dir=str(ctx.run_dir),
                          nodes=len(nodes), resumed_from=ctx.resumed_from)
        strategy = ZeroFLFedAvg(ctx, nodes, attribution=opts.attribution, torch_threads=opts.torch_threads,
                                on_event=opts.on_event)
        strategy.start(grid, state_to_arrays(ctx.global_state), num_rounds=cfg.rounds - ctx.start_round + 1,
                       timeout=opts.round_timeout_s)
    finally:
        ctx.close()


def make_server_app(opts: ServerOptions | None = None) -> ServerApp:
    """The ServerApp; without ``opts`` it reads them from the run config of `flwr run`."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        run_server(grid, opts if opts is not None else options_from_run_config(context.run_config))

    return app


__all__ = ["ServerOptions", "make_server_app", "run_server", "discover_partitions", "options_from_run_config"]
