"""The in-process federated engine: sample K of N, train each client, aggregate, evaluate, checkpoint.

The set-up, the per-client record, the server half of a round and the summary are separate
functions on :class:`RunContext`, so the Flower engine reuses them and both write the same run
directory. ``run`` is only the loop.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from ..config import RunConfig
from ..errors import ConfigError, TrainingError
from ..power import Meter, NullMeter
from ..traces.io import read_client_records, read_round_records
from ..traces.layers import LayersDoc
from ..traces.rundir import RunDir, StoredRun, as_rundir
from ..traces.schema import CONFIG_FILE, TRACE_TABLE, EnergyBlock, RoundRecord, TraceInfo
from .checkpoint import Checkpoint, load_own_checkpoint, save_checkpoint
from .client import ClientData, ClientResult, train_client
from .data import ArrayDataset
from .runtime import apply_threads, sparse_config
from .worker import TensorState, Worker, build_dense, get_worker, model_state, to_device_state


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

    def scores(self) -> str:
        """'accuracy A, loss L', or a note that the round was not evaluated (--eval-every)."""
        if self.accuracy is None:
            return "not evaluated"
        loss = "-" if self.loss is None else f"{self.loss:.4f}"
        return f"accuracy {self.accuracy:.4f}, loss {loss}"


ProgressHook = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class TrainingResult:
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


def stored_config(run_dir: str | Path | RunDir) -> RunConfig:
    """The configuration a run directory was started with (for --resume)."""
    return as_rundir(run_dir).read_config().config


#: Where a run trains, not what it computes: a resume may move it (when the user says so).
PLACEMENT_KEYS = ("accelerator", "client_gpus")


def _config_diff(a: RunConfig, b: RunConfig) -> list[str]:
    da, db = a.to_dict(), b.to_dict()
    return [k for k in da if da[k] != db[k] and k not in PLACEMENT_KEYS]


def place_run(cfg: RunConfig, stored: RunConfig | None = None) -> RunConfig:
    """Resolve `accelerator` to the device the run trains on (a resumed run keeps the run's, unless asked)."""
    from .accelerator import resolve_accelerator

    from ..sparse.kernels import check_modes

    check_modes(cfg.sparse_kernels, cfg.mask_structure)  # the hardware a sparse-kernel mode needs
    spec = stored.accelerator if stored is not None and cfg.accelerator == "auto" else cfg.accelerator
    return cfg.with_updates(accelerator=resolve_accelerator(spec))


@dataclass(eq=False)
class RunContext:
    """Everything a round needs, built once; writes the run through its RunDir (which holds the lock)."""

    cfg: RunConfig
    rundir: RunDir
    stored: StoredRun
    train: ArrayDataset
    test: ArrayDataset
    clients: list[ClientData]
    worker: Worker
    global_state: TensorState  # on the run's device: clients load it, the server aggregates into it there
    start_round: int  # first round still to run
    meter: Meter
    resumed_from: int | None = None
    _owns_meter: bool = False

    @property
    def run_dir(self) -> Path:
        """The run directory's path."""
        return self.rundir.path

    @property
    def run_id(self) -> str:
        """The run's id (from config.toml)."""
        return self.stored.run_id

    # ------------------------------------------------------------------ client side
    def train_one(self, rnd: int, client_id: int) -> ClientResult:
        """Train one sampled client in-process (the Flower engine calls train_client remotely)."""
        return train_client(self.global_state, self.clients[client_id], self.cfg, rnd, client_id, self.meter,
                            lr=self.cfg.lr_for_round(rnd), run_id=self.run_id)

    def record_client(self, result: ClientResult) -> None:
        """Append the client's record (durable at once), then apply --on-client-error stop."""
        rec = result.record if result.record.run_id == self.run_id else replace(result.record, run_id=self.run_id)
        self.rundir.append_client(rec)
        if rec.status != "ok" and self.cfg.on_client_error == "stop":
            raise TrainingError(f"client {rec.client_id} failed in round {rec.round}: {rec.error}; run stopped "
                                f"(--on-client-error stop), trace kept in {self.rundir.trace_path}")

    # ------------------------------------------------------------------ server side
    def finish_round(self, rnd: int, sampled: Sequence[int], results: Sequence[ClientResult],
                     round_wall_s: float, engine: str = "inprocess") -> RoundRecord:
        """Aggregate the successful uploads, evaluate, write the round record, checkpoint."""
        from .server import Evaluation, evaluate_modes
        from .uploads import aggregate_uploads

        from .accelerator import device_ops

        ok = [r for r in results if r.ok]
        ops = device_ops(self.cfg.accelerator)
        ops.synchronize()  # no client's device work leaks into this window
        t0 = time.perf_counter()
        with self.meter.window(f"round-{rnd}/aggregation") as win:
            if ok:
                self.global_state = aggregate_uploads(self.global_state, [(r.upload, r.record.samples) for r in ok],
                                                      self.cfg.aggregation)
            ops.synchronize()  # the window covers the aggregation's device work
        agg_s = time.perf_counter() - t0
        ev = evaluate_modes(self.global_state, self.test, self.cfg) if self.cfg.evaluates_round(rnd) else Evaluation()
        rec = RoundRecord(
            run_id=self.run_id, round=int(rnd), sampled_clients=[int(c) for c in sampled],
            completed_clients=[r.record.client_id for r in ok],
            failed_clients=[r.record.client_id for r in results if not r.ok],
            aggregation_time_s=agg_s, round_wall_time_s=round_wall_s + agg_s, test_accuracy=ev.accuracy, test_loss=ev.loss,
            test_accuracy_sparse=ev.accuracy_sparse, test_loss_sparse=ev.loss_sparse,
            test_accuracy_dense=ev.accuracy_dense, test_loss_dense=ev.loss_dense,
            lr=self.cfg.lr_for_round(rnd), energy=win.result, energy_estimate=win.estimate, engine=engine,
            timestamp=time.time())
        self.rundir.end_round(rec)  # the round's client records durable, then its round record
        save_checkpoint(self.rundir, Checkpoint(self.run_id, int(rnd), self.global_state, self.stored.digest))
        return rec

    def close(self) -> None:
        """Release the run directory (appenders and lock) and close a meter this context created."""
        self.rundir.release()
        if self._owns_meter:
            self.meter.close()


def make_meter_for(cfg: RunConfig) -> tuple[Meter, bool]:
    """The configured energy meter (NullMeter for 'none'); True when the caller must close it."""
    if cfg.energy == "none":
        return NullMeter("energy measurement off (energy = 'none')"), False
    try:
        from ..power import make_meter
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


def setup_run(cfg: RunConfig, out_dir: str | Path | RunDir, resume: bool = False,
              meter: Meter | None = None) -> RunContext:
    """Lock the run directory, validate it, load data and model, write the run files (or reopen them).

    The lock comes first, so a second writer fails at once naming the first; everything else is
    validated and loaded before any run file is written, and a directory this call created is
    removed again when it fails before writing.
    """
    rundir = as_rundir(out_dir)
    rundir.acquire()
    owned: list[Meter] = []  # a meter _setup made, closed again if it fails
    try:
        return _setup(cfg, rundir, resume, meter, owned)
    except BaseException:
        for m in owned:
            m.close()
        rundir.discard()
        raise


def clamped_batch_warning(batch_size: int, client_sizes: list[int]) -> str | None:
    """One line when some clients hold fewer samples than a batch (their batches are clamped), else None."""
    small = [n for n in client_sizes if n < batch_size]
    if not small:
        return None
    return (f"warning: batch size {batch_size} exceeds the data of {len(small)} of {len(client_sizes)} clients "
            f"(smallest: {min(small)} samples); their batches are clamped to the client's data (the trace records "
            f"the batches that ran, and costs are priced from them)")


def _setup(cfg: RunConfig, rundir: RunDir, resume: bool, meter: Meter | None, owned: list[Meter]) -> RunContext:
    ckpt: Checkpoint | None = None
    if resume:
        stored = rundir.read_config()
        diff = _config_diff(stored.config, cfg)
        if diff:
            raise ConfigError(f"--resume continues the stored configuration; these options differ from it: "
                              f"{', '.join(diff)}")
        cfg = place_run(cfg, stored.config)
        if not stored.trace:
            raise ConfigError(f"cannot resume {rundir.path}: it was written with trace schema version 1 (no "
                              f"[{TRACE_TABLE}] table in {CONFIG_FILE}); reports still read it, but a resumed run "
                              f"would mix versions")
        ckpt = load_own_checkpoint(rundir)  # a foreign checkpoint is refused before any work
    elif not rundir.is_fresh():
        raise ConfigError(f"run directory {rundir.path} already exists; pass --resume to continue it "
                          f"or choose another --out")
    else:
        cfg = place_run(cfg)
    train, test, clients, pstats = load_run_data(cfg)
    clamped = clamped_batch_warning(cfg.batch_size, [len(c) for c in clients])
    if clamped:
        print(clamped, file=sys.stderr)
    worker = get_worker(cfg, train.input_shape, train.num_classes)
    if worker.kernel_note:
        print(worker.kernel_note, file=sys.stderr)  # once per run: which layers run on real sparse kernels
    from ..flops import count_from_trace

    report = count_from_trace(worker.shape_trace(cfg.batch_size), weight_sparsity=cfg.weight_sparsity,
                              activation_sparsity=cfg.act_sparsity, dense_layers=worker.dense_layers,
                              num_classes=worker.num_classes, optimizer=cfg.optimizer_name,
                              selection_periods=sparse_config(cfg).selection_periods)
    layers = LayersDoc.from_json(report.to_json(), source="the FLOP counter")
    owns = False
    if meter is None:
        meter, owns = make_meter_for(cfg)
        owned.append(meter)
    info = trace_info_for(cfg, meter)

    start, resumed_from = 1, None
    if resume:
        stored = rundir.read_config()
        info = TraceInfo.from_dict(stored.trace, f"{rundir.config_path}: [{TRACE_TABLE}]")
        if ckpt is not None:
            global_state, start, resumed_from = to_device_state(ckpt.global_state, cfg.accelerator), ckpt.round + 1, ckpt.round
        else:
            global_state, resumed_from = initial_state(cfg, worker), 0
        rundir.trim_after(start - 1)
        if not rundir.layers_path.is_file():  # killed between config.toml and layers.json
            rundir.write_layers(layers)
    else:
        from .environment import fingerprint

        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        stored = rundir.create(cfg, run_id, layers, environment=fingerprint(cfg.accelerator), partition_stats=pstats,
                               trace=info.to_toml_dict())
        global_state = initial_state(cfg, worker)
    rundir.open_appenders(energy_skipped=info.energy_skipped)
    return RunContext(cfg, rundir, stored, train, test, clients, worker, global_state, start, meter, resumed_from,
                      owns)


def initial_state(cfg: RunConfig, worker: Worker) -> TensorState:
    """The round-0 global model (seeded), on the run's device."""
    return to_device_state(model_state(build_dense(cfg, worker.input_shape, worker.num_classes)), cfg.accelerator)


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
                     energy_skipped=skipped, accelerator=cfg.accelerator, precision="float32")



def summarize(run_dir: str | Path | RunDir, cfg: RunConfig, run_wall_s: float = 0.0, *, already_finished: bool = False,
              resumed_from: int | None = None) -> TrainingResult:
    """Summary of what the run directory holds (so a resumed or finished run reports the whole run)."""
    rd = as_rundir(run_dir)
    clients = read_client_records(rd.trace_path) if rd.trace_path.exists() else []
    rounds = read_round_records(rd.rounds_path) if rd.rounds_path.exists() else []
    evaluated = [r for r in rounds if r.test_accuracy is not None]  # --eval-every leaves rounds without one
    accs = [r.test_accuracy for r in evaluated]
    run_id = rd.read_config().run_id if rd.config_path.exists() else ""
    return TrainingResult(
        run_dir=str(rd.path), run_id=run_id, rounds_completed=len(rounds),
        rounds_total=cfg.rounds, final_accuracy=evaluated[-1].test_accuracy if evaluated else None,
        final_loss=evaluated[-1].test_loss if evaluated else None, best_accuracy=max(accs) if accs else None,
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
        print(f"round {ev.round}/{ev.rounds}: {ev.scores()}", file=sys.stderr)
    elif ev.kind in ("start", "done") and ev.message:
        print(ev.message, file=sys.stderr)
    elif ev.kind == "client" and ev.status != "ok" and ev.message:
        print(ev.message, file=sys.stderr)


def run(cfg: RunConfig, out_dir: str | Path | RunDir, resume: bool = False, meter: Meter | None = None,
        progress: bool | ProgressHook = True) -> TrainingResult:
    """Run (or resume) a federated training run in this process and write RUN_DIR."""
    from .sampling import sample_clients

    hook: ProgressHook = (print_progress if progress is True else (lambda ev: None) if not progress
                          else progress)  # type: ignore[assignment]
    t_run = time.perf_counter()
    old_threads = apply_threads(cfg)
    try:
        return _run(cfg, out_dir, resume, meter, hook, t_run)
    finally:
        import torch

        torch.set_num_threads(old_threads)


def finished_checkpoint(cfg: RunConfig, out_dir: str | Path | RunDir) -> Checkpoint | None:
    """This run's checkpoint when it already holds every round of ``cfg`` (resume then does nothing).

    Read without the lock (it only reads); a checkpoint of another run is refused here too.
    """
    rundir = as_rundir(out_dir)
    if not rundir.checkpoint_path.is_file():
        return None
    ck = load_own_checkpoint(rundir)
    if ck is not None and ck.round >= cfg.rounds and not _config_diff(rundir.read_config().config, cfg):
        return ck
    return None


def _run(cfg: RunConfig, out_dir: str | Path | RunDir, resume: bool, meter: Meter | None, hook: ProgressHook,
         t_run: float) -> TrainingResult:
    from .sampling import sample_clients

    rundir = as_rundir(out_dir)  # one RunDir: config.toml is parsed once however often it is asked for
    ck = finished_checkpoint(cfg, rundir) if resume else None
    if ck is not None:
        summary = summarize(rundir, cfg, already_finished=True, resumed_from=ck.round)
        hook(ProgressEvent("done", ck.round, cfg.rounds, message="run already finished; nothing to do"))
        return summary
    ctx = setup_run(cfg, rundir, resume, meter)
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
    return summarize(ctx.rundir, cfg, time.perf_counter() - t_run, resumed_from=ctx.resumed_from)


__all__ = ["ProgressEvent", "ProgressHook", "RunContext", "TrainingResult", "finished_checkpoint", "load_run_data",
           "make_meter_for", "place_run", "run", "setup_run", "stored_config", "summarize"]
