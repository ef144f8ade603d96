"""The in-process federated engine: sample K of N, train each client, aggregate, evaluate, checkpoint.

The set-up, the per-client record, the server half of a round and the summary are separate
functions on :class:`RunContext`, so the Flower engine reuses them and both write the same run
directory. ``run`` is only the loop.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ConfigError, TrainingError
from ..power import NullMeter
from ..traces.io import JsonlWriter, iter_jsonl, read_client_records, read_round_records, truncate_partial_tail
from ..traces.schema import (
    CONFIG_FILE,
    LAYERS_FILE,
    ROUNDS_FILE,
    TRACE_FILE,
    TRACE_TABLE,
    EnergyBlock,
    RoundRecord,
    TraceInfo,
)
from .checkpoint import CHECKPOINT_FILE, Checkpoint, load_checkpoint, save_checkpoint
from .client import ClientData, ClientResult, train_client
from .config import RunConfig, from_mapping, read_toml
from .data import ArrayDataset
from .worker import Worker, build_dense, get_worker, state_to_numpy


@dataclass(frozen=True)
class ProgressEvent:
    """What the engine tells a progress display; the engine itself never renders anything."""

    kind: str  # "start" | "client" | "round" | "done"
    round: int
    rounds: int
    client_id: int | None = None
    client_index: int = 0
    clients_in_round: int = 0
    status: str = "ok"
    accuracy: float | None = None
    loss: float | None = None
    message: str = ""


ProgressHook = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class RunSummary:
    """The short end-of-run summary (also printed when resuming a finished run)."""

    run_dir: str
    run_id: str
    rounds_completed: int
    rounds_total: int
    final_accuracy: float | None
    final_loss: float | None
    best_accuracy: float | None
    client_rounds_ok: int
    client_rounds_failed: int
    flops_dense: int
    flops_sparse: int
    bytes_up: int
    bytes_up_dense: int
    bytes_down: int
    client_wall_time_s: float
    run_wall_time_s: float
    already_finished: bool = False
    resumed_from_round: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        from dataclasses import asdict

        return asdict(self)


def stored_config(run_dir: str | Path) -> RunConfig:
    """The configuration a run directory was started with (for --resume)."""
    p = Path(run_dir) / CONFIG_FILE
    if not p.is_file():
        raise ConfigError(f"cannot resume: {run_dir} holds no {CONFIG_FILE} (was it started by `train`?)")
    return from_mapping(read_toml(p))


def _config_diff(a: RunConfig, b: RunConfig) -> list[str]:
    da, db = a.to_dict(), b.to_dict()
    return [k for k in da if da[k] != db[k]]


@dataclass(eq=False)
class RunContext:
    """Everything a round needs, built once; writes the run directory's files."""

    cfg: RunConfig
    run_dir: Path
    run_id: str
    train: ArrayDataset
    test: ArrayDataset
    clients: list[ClientData]
    worker: Worker
    global_state: dict[str, np.ndarray]
    start_round: int  # first round still to run
    meter: Any
    resumed_from: int | None = None
    _owns_meter: bool = False
    _trace: JsonlWriter | None = field(default=None, repr=False)
    _rounds: JsonlWriter | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ client side
    def train_one(self, rnd: int, client_id: int) -> ClientResult:
        """Train one sampled client in-process (the Flower engine calls train_client remotely)."""
        return train_client(self.global_state, self.clients[client_id], self.cfg, rnd, client_id, self.meter,
                            lr=self.cfg.lr_for_round(rnd), run_id=self.run_id)

    def record_client(self, result: ClientResult) -> None:
        """Append the client's record (durable at once), then apply --on-client-error stop."""
        rec = result.record if result.record.run_id == self.run_id else replace(result.record, run_id=self.run_id)
        assert self._trace is not None
        self._trace.write(rec)
        if rec.status != "ok" and self.cfg.on_client_error == "stop":
            raise TrainingError(f"client {rec.client_id} failed in round {rec.round}: {rec.error}; run stopped "
                                f"(--on-client-error stop), trace kept in {self.run_dir / TRACE_FILE}")

    # ------------------------------------------------------------------ server side
    def finish_round(self, rnd: int, sampled: Sequence[int], results: Sequence[ClientResult],
                     round_wall_s: float, engine: str = "inprocess") -> RoundRecord:
        """Aggregate the successful uploads, evaluate, write the round record, checkpoint."""
        from .server import evaluate
        from .uploads import aggregate_uploads

        ok = [r for r in results if r.ok]
        t0 = time.perf_counter()
        with self.meter.window(f"round-{rnd}/aggregation") as win:
            if ok:
                self.global_state = aggregate_uploads(self.global_state, [(r.upload, r.record.samples) for r in ok],
                                                      self.cfg.aggregation)
        agg_s = time.perf_counter() - t0
        acc, loss = evaluate(self.global_state, self.test, self.cfg)
        rec = RoundRecord(
            run_id=self.run_id, round=int(rnd), sampled_clients=[int(c) for c in sampled],
            completed_clients=[r.record.client_id for r in ok],
            failed_clients=[r.record.client_id for r in results if not r.ok],
            aggregation_time_s=agg_s, round_wall_time_s=round_wall_s + agg_s, test_accuracy=acc, test_loss=loss,
            lr=self.cfg.lr_for_round(rnd), energy=win.result, energy_estimate=win.estimate, engine=engine,
            timestamp=time.time())
        assert self._rounds is not None
        self._rounds.write(rec)
        _fsync_path(self.run_dir / TRACE_FILE)  # the round's client records are durable before its checkpoint
        save_checkpoint(self.run_dir, Checkpoint(self.run_id, int(rnd), self.global_state))
        return rec

    def close(self) -> None:
        """Close the writers and a meter this context created."""
        for w in (self._trace, self._rounds):
            if w is not None:
                w.close()
        if self._owns_meter and hasattr(self.meter, "close"):
            self.meter.close()


def make_meter_for(cfg: RunConfig) -> tuple[Any, bool]:
    """The configured energy meter (NullMeter for 'none'); True when the caller must close it."""
    if cfg.energy == "none":
        return NullMeter("energy measurement off (energy = 'none')"), False
    try:
        from ..power import make_meter  # type: ignore[attr-defined]
    except ImportError:
        raise ConfigError(f"energy backend {cfg.energy!r} is not available in this build") from None
    return make_meter(cfg.energy), True


def load_run_data(cfg: RunConfig) -> tuple[ArrayDataset, ArrayDataset, list[ClientData], dict[str, Any]]:
    """(train, test, per-client shares, partition stats) exactly as every engine sees them."""
    from .data import get_dataset_spec, load_dataset
    from .partition import make_partition, partition_stats

    spec = get_dataset_spec(cfg.dataset)
    shape = spec.input_shape
    if shape is None:  # synthetic: shaped for the model
        from ..models import default_input_shape

        shape = default_input_shape(cfg.model)
    train, test = load_dataset(cfg.dataset, cfg.data_dir, input_shape=shape, seed=cfg.seed)
    if cfg.clients > len(train):
        raise ConfigError(f"{cfg.clients} clients but only {len(train)} training samples")
    parts = make_partition(cfg.partition, train.y, cfg.clients, alpha=cfg.alpha, seed=cfg.seed)
    stats = partition_stats(train.y, parts, train.num_classes).to_json()
    return train, test, [train.subset(p) for p in parts], stats


def _fsync_path(path: Path) -> None:
    """Make a file's written data durable (fsync acts on the file, whichever descriptor asks)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)




def _keep_finished(path: Path, last_round: int) -> None:
    """Drop a partial last line and every record of rounds after ``last_round`` (they are redone)."""
    if not path.exists():
        return
    truncate_partial_tail(path)
    keep = [json.dumps(obj, separators=(",", ":")) for _, obj in iter_jsonl(path)
            if int(obj.get("round", 0)) <= last_round]
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in keep))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def setup_run(cfg: RunConfig, out_dir: str | Path, resume: bool = False, meter: Any = None) -> RunContext:
    """Validate the run directory, load data and model, write the run files (or reopen them)."""
    run_dir = Path(out_dir).expanduser()
    if resume:
        stored = stored_config(run_dir)
        diff = _config_diff(stored, cfg)
        if diff:
            raise ConfigError(f"--resume continues the stored configuration; these options differ from it: "
                              f"{', '.join(diff)}")
    elif run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ConfigError(f"run directory {run_dir} already exists; pass --resume to continue it "
                          f"or choose another --out")
    # all validation and loading happens before anything is written
    train, test, clients, pstats = load_run_data(cfg)
    worker = get_worker(cfg, train.input_shape, train.num_classes)
    from ..flops import count_from_trace

    layers = count_from_trace(worker.shape_trace(cfg.batch_size), weight_sparsity=cfg.weight_sparsity,
                              activation_sparsity=cfg.act_sparsity, dense_layers=worker.dense_layers,
                              num_classes=worker.num_classes, optimizer=cfg.optimizer_name).to_json()
    if meter is None:
        meter, owns = make_meter_for(cfg)
    else:
        owns = False
    info = trace_info_for(cfg, meter)

    start, resumed_from = 1, None
    if resume:
        meta = read_toml_meta(run_dir)
        if TRACE_TABLE not in meta:
            raise ConfigError(f"cannot resume {run_dir}: it was written with trace schema version 1 (no [trace] "
                              f"table in {CONFIG_FILE}); reports still read it, but a resumed run would mix versions")
        info = TraceInfo.from_dict(meta[TRACE_TABLE], f"{run_dir / CONFIG_FILE}: [{TRACE_TABLE}]")
        run_id = str(meta.get("run_id") or run_dir.name)
        ckpt = load_checkpoint(run_dir)
        if ckpt is not None:
            global_state, start, resumed_from = ckpt.global_state, ckpt.round + 1, ckpt.round
        else:
            global_state, resumed_from = state_to_numpy(build_dense(cfg, worker.input_shape, worker.num_classes)), 0
        for name in (TRACE_FILE, ROUNDS_FILE):
            _keep_finished(run_dir / name, start - 1)
        if not (run_dir / LAYERS_FILE).is_file():  # killed between config.toml and layers.json
            _write_layers(run_dir, layers)
    else:
        from .environment import fingerprint

        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.to_toml(run_dir / CONFIG_FILE, run_id=run_id, environment=fingerprint(), partition_stats=pstats,
                    trace=info.to_toml_dict())
        _write_layers(run_dir, layers)
        global_state = state_to_numpy(build_dense(cfg, worker.input_shape, worker.num_classes))
    ctx = RunContext(cfg, run_dir, run_id, train, test, clients, worker, global_state, start, meter, resumed_from,
                     owns)
    # client records are flushed per line (a killed process loses none) and fsynced once per round,
    # before the checkpoint that counts them; round records are fsynced as written
    ctx._trace = JsonlWriter(run_dir / TRACE_FILE, fsync=False, energy_skipped=info.energy_skipped)
    ctx._rounds = JsonlWriter(run_dir / ROUNDS_FILE, energy_skipped=info.energy_skipped)
    return ctx


def trace_info_for(cfg: RunConfig, meter: Any) -> TraceInfo:
    """The run's [trace] constants, with the skip reasons of the meter clients measure with.

    In-process clients use ``meter``; Flower clients each build the configured meter
    (``make_meter_for``), so one like theirs is built here for its reasons (records of clients
    on other hosts whose reasons differ carry their own).
    """
    client_meter, owns = make_meter_for(cfg) if cfg.engine == "flower" else (meter, False)
    try:
        with client_meter.window("setup") as win:
            pass
    finally:
        if owns and hasattr(client_meter, "close"):
            client_meter.close()
    skipped = dict(win.result.skipped) if isinstance(win.result, EnergyBlock) else {}
    return TraceInfo(engine=cfg.engine, upload=cfg.upload, encoding=cfg.encoding, model=cfg.model,
                     energy_skipped=skipped, accelerator=None, precision="float32")


def _write_layers(run_dir: Path, layers: dict[str, Any]) -> None:
    (run_dir / LAYERS_FILE).write_text(json.dumps(layers, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def read_toml_meta(run_dir: Path) -> dict[str, Any]:
    """The metadata keys (run_id, environment) of a run's config.toml."""
    import tomllib

    return tomllib.loads((Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8"))


def summarize(run_dir: str | Path, cfg: RunConfig, run_wall_s: float = 0.0, *, already_finished: bool = False,
              resumed_from: int | None = None) -> RunSummary:
    """Summary of what the run directory holds (so a resumed or finished run reports the whole run)."""
    run_dir = Path(run_dir)
    clients = read_client_records(run_dir / TRACE_FILE) if (run_dir / TRACE_FILE).exists() else []
    rounds = read_round_records(run_dir / ROUNDS_FILE) if (run_dir / ROUNDS_FILE).exists() else []
    accs = [r.test_accuracy for r in rounds if r.test_accuracy is not None]
    meta = read_toml_meta(run_dir) if (run_dir / CONFIG_FILE).exists() else {}
    return RunSummary(
        run_dir=str(run_dir), run_id=str(meta.get("run_id", "")), rounds_completed=len(rounds),
        rounds_total=cfg.rounds, final_accuracy=rounds[-1].test_accuracy if rounds else None,
        final_loss=rounds[-1].test_loss if rounds else None, best_accuracy=max(accs) if accs else None,
        client_rounds_ok=sum(c.status == "ok" for c in clients),
        client_rounds_failed=sum(c.status != "ok" for c in clients),
        flops_dense=sum(c.flops["dense"]["total"] for c in clients),
        flops_sparse=sum(c.flops["sparse"]["total"] for c in clients),
        bytes_up=sum(c.bytes_up for c in clients), bytes_up_dense=sum(c.bytes_up_dense for c in clients),
        bytes_down=sum(c.bytes_down for c in clients), client_wall_time_s=sum(c.wall_time_s for c in clients),
        # a finished run re-summarised did no work now: report the recorded rounds' wall time instead of 0
        run_wall_time_s=run_wall_s if (run_wall_s > 0 or not already_finished)
        else sum(r.round_wall_time_s for r in rounds),
        already_finished=already_finished, resumed_from_round=resumed_from)


def print_progress(ev: ProgressEvent) -> None:
    """Plain one-line progress on stderr (the CLI passes a rich display instead)."""
    if ev.kind == "round":
        print(f"round {ev.round}/{ev.rounds}: accuracy {ev.accuracy:.4f}, loss {ev.loss:.4f}", file=sys.stderr)
    elif ev.kind in ("start", "done") and ev.message:
        print(ev.message, file=sys.stderr)


def run(cfg: RunConfig, out_dir: str | Path, resume: bool = False, meter: Any = None,
        progress: bool | ProgressHook = True) -> RunSummary:
    """Run (or resume) a federated training run in this process and write RUN_DIR."""
    from .sampling import sample_clients

    hook: ProgressHook = (print_progress if progress is True else (lambda ev: None) if not progress
                          else progress)  # type: ignore[assignment]
    t_run = time.perf_counter()
    old_threads = cfg.apply_threads()
    try:
        return _run(cfg, out_dir, resume, meter, hook, t_run)
    finally:
        import torch

        torch.set_num_threads(old_threads)


def _run(cfg: RunConfig, out_dir: str | Path, resume: bool, meter: Any, hook: ProgressHook,
         t_run: float) -> RunSummary:
    from .sampling import sample_clients

    if resume and (Path(out_dir) / CHECKPOINT_FILE).is_file():
        ck = load_checkpoint(Path(out_dir))
        if ck is not None and ck.round >= cfg.rounds and stored_config(out_dir) == cfg:
            summary = summarize(out_dir, cfg, already_finished=True, resumed_from=ck.round)
            hook(ProgressEvent("done", ck.round, cfg.rounds, message="run already finished; nothing to do"))
            return summary
    ctx = setup_run(cfg, out_dir, resume, meter)
    try:
        hook(ProgressEvent("start", ctx.start_round, cfg.rounds,
                           message=(f"resuming {ctx.run_dir} after round {ctx.resumed_from}" if resume
                                    else f"run {ctx.run_id} -> {ctx.run_dir}")))
        for rnd in range(ctx.start_round, cfg.rounds + 1):
            t0 = time.perf_counter()
            sampled = sample_clients(cfg.seed, rnd, cfg.clients, cfg.clients_per_round)
            results: list[ClientResult] = []
            for i, cid in enumerate(sampled):
                res = ctx.train_one(rnd, cid)
                results.append(res)
                ctx.record_client(res)
                hook(ProgressEvent("client", rnd, cfg.rounds, cid, i + 1, len(sampled), res.record.status))
            rec = ctx.finish_round(rnd, sampled, results, time.perf_counter() - t0)
            hook(ProgressEvent("round", rnd, cfg.rounds, accuracy=rec.test_accuracy, loss=rec.test_loss))
    finally:
        ctx.close()
    return summarize(ctx.run_dir, cfg, time.perf_counter() - t_run, resumed_from=ctx.resumed_from)


__all__ = ["ProgressEvent", "ProgressHook", "RunContext", "RunSummary", "load_run_data", "make_meter_for", "run",
           "setup_run", "stored_config", "summarize"]
