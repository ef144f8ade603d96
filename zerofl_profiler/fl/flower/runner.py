"""``zerofl-profile train --engine flower``: the experiment on Flower's simulation runtime (Ray).

We use ``flwr.simulation.run_simulation`` (deprecated in 1.42 but the in-process path) rather
than ``flwr run`` against a managed local SuperLink: the latter starts a detached SuperLink
daemon on a fixed port that outlives the command, and cannot be handed our RunConfig object,
our progress hook or an injected ClientApp for tests. Ray gets one CPU per client by default;
every client fixes torch to ``torch_threads`` intra-op threads (the in-process engine should run
its clients with the same count for bit-comparable results).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ...config import RunConfig
from ...errors import BadInputError, ZeroflError
from ...traces.rundir import FLOWER_LOG
from ...power import Meter
from ...traces.rundir import RunDir, as_rundir
from .extra import require_flower

if TYPE_CHECKING:
    from ..engine import RunSummary


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def concurrency(client_cpus: float, total_cpus: int) -> int:
    """How many clients Ray runs at once: whole clients that fit in the CPUs given to Ray."""
    return max(1, int(total_cpus // client_cpus))


def failure_line(rnd: int, cid: int | None, error: str | None, log: Path) -> str:
    """One line for a failed client: the first line of its error; the full detail is in the log and the trace."""
    first = (error or "failed").strip().splitlines()[0] if (error or "").strip() else "failed"
    if len(first) > 160:
        first = first[:157] + "..."
    return f"round {rnd}: client {cid} failed: {first} (details: {log} and the trace's error field)"


def _progress_hook(progress: bool | Callable[..., Any], rounds: int, log: Path) -> Callable[..., None]:
    """Adapt the strategy's events to the engine's ProgressEvent hook (same display as in-process).

    A failed client is one line even without a progress display (``--quiet``): never silent.
    """
    import sys

    from ..engine import ProgressEvent, print_progress

    hook = print_progress if progress is True else None if progress is False else progress

    def on_event(kind: str, rnd: int, cid: int | None = None, index: int = 0, of: int = 0, status: str = "ok",
                 accuracy: float | None = None, loss: float | None = None, **info: Any) -> None:
        msg = ""
        if kind == "client" and status != "ok":
            msg = failure_line(rnd, cid, info.get("error"), log)
            if hook is None:
                print(msg, file=sys.stderr)
        if hook is None:
            return
        if kind == "start":
            msg = (f"flower: resuming {info.get('run_dir')} after round {info.get('resumed_from')}"
                   if info.get("resumed_from") is not None else
                   f"flower run {info.get('run_id')} -> {info.get('run_dir')} ({info.get('nodes')} SuperNodes)")
        hook(ProgressEvent(kind, rnd, rounds, cid, index, of, status, accuracy, loss, msg))

    return on_event


def run_flower(cfg: RunConfig, out_dir: str | Path | RunDir, resume: bool = False, meter: Meter | None = None,
               progress: bool | Callable[..., Any] = True, *, client_cpus: float = 1.0,
               ray_cpus: int | None = None, torch_threads: int | None = None, client_app: Any = None,
               verbose: bool = False) -> RunSummary:
    """Run (or resume) ``cfg`` on Flower's simulation runtime and write the same RUN_DIR as in-process.

    ``meter`` is accepted for parity with ``fl.engine.run`` and unused: a meter cannot cross into
    Ray workers, so each client builds the configured one (``cfg.energy``) in its own worker.
    When more than one client runs at a time, measured energy windows overlap
    on the shared counters and records say ``attribution = "shared"``; pass ``client_cpus`` equal to
    the CPU count to run one client at a time and get exclusive windows.
    """
    if not client_cpus > 0:
        raise BadInputError(f"client CPUs must be > 0, got {client_cpus}")
    if torch_threads is None:  # the same thread count as the in-process engine (RunConfig.threads)
        torch_threads = int(getattr(cfg, "threads", 1) or 1)
    if torch_threads < 1:
        raise BadInputError(f"torch threads must be >= 1, got {torch_threads}")
    require_flower(simulation=True)
    from ..engine import ProgressEvent, finished_checkpoint, place_run, stored_config, summarize
    from .client_app import make_client_app
    from .server_app import DEFAULT_WAIT_NODES_S, ServerOptions, make_server_app

    if cfg.engine != "flower":
        cfg = cfg.with_updates(engine="flower")
    total = int(ray_cpus or _cpus())
    if client_cpus > total:
        raise BadInputError(f"client CPUs {client_cpus:g} exceed the {total} CPUs given to Ray")
    t_run = time.perf_counter()
    resumed_from = None
    if resume:
        ck = finished_checkpoint(cfg, out_dir)
        if ck is not None:
            if progress is not False:
                from ..engine import print_progress

                (print_progress if progress is True else progress)(ProgressEvent(
                    "done", ck.round, cfg.rounds, message="run already finished; nothing to do"))
            return summarize(out_dir, cfg, already_finished=True, resumed_from=ck.round)
        from ..checkpoint import load_checkpoint

        last = load_checkpoint(out_dir)
        resumed_from = None if last is None else last.round

    # fail at once (before Ray starts) when another process writes this run; the ServerApp then
    # takes the lock for the run itself (in this process, so it cannot be held across the call)
    probe = as_rundir(out_dir)
    probe.acquire()
    probe.discard()

    cfg = place_run(cfg, stored_config(out_dir) if resume else None)  # every actor trains on this device
    gpus = client_gpu_share(cfg)
    shared = (concurrency(client_cpus, total) > 1 or 0 < gpus < 1) and cfg.energy != "none"
    log = Path(out_dir) / FLOWER_LOG
    opts = ServerOptions(cfg=cfg, out_dir=str(out_dir), resume=resume,
                         attribution="shared" if shared else "exclusive", torch_threads=torch_threads,
                         wait_nodes_s=DEFAULT_WAIT_NODES_S, on_event=_progress_hook(progress, cfg.rounds, log))
    backend_config = {
        "client_resources": {"num_cpus": float(client_cpus), "num_gpus": gpus},
        "init_args": {"num_cpus": total, "num_gpus": _gpu_count() if gpus else 0, "include_dashboard": False,
                      "logging_level": "ERROR" if not verbose else "INFO", "log_to_driver": bool(verbose)},
    }
    _quiet_flower(verbose)
    from flwr.simulation import run_simulation

    errors_to_file = _ErrorsToFile(log)
    flwr_logger = logging.getLogger("flwr")
    flwr_logger.addHandler(errors_to_file)
    console_filters = [(h, _NoErrors()) for h in flwr_logger.handlers if h is not errors_to_file]
    for h, f in console_filters:
        h.addFilter(f)
    try:
        run_simulation(server_app=make_server_app(opts), client_app=client_app or make_client_app(),
                       num_supernodes=cfg.clients, backend_name="ray", backend_config=backend_config,
                       verbose_logging=verbose)
    except ZeroflError:
        raise
    except RuntimeError as exc:
        cause = exc.__cause__
        if isinstance(cause, ZeroflError):
            raise cause from None
        raise ZeroflError(f"Flower simulation failed: {cause or exc}") from None
    finally:
        flwr_logger.removeHandler(errors_to_file)
        errors_to_file.close()
        for h, f in console_filters:
            h.removeFilter(f)
    return summarize(out_dir, cfg, time.perf_counter() - t_run, resumed_from=resumed_from)


def client_gpu_share(cfg: Any) -> float:
    """Each Ray client actor's GPU share: --client-gpus, else a whole GPU when the run trains on CUDA."""
    on_cuda = str(cfg.accelerator).startswith("cuda")
    if cfg.client_gpus is None:
        return 1.0 if on_cuda else 0.0
    if not on_cuda:
        raise BadInputError(f"--client-gpus {cfg.client_gpus:g} needs a CUDA run (--accelerator cuda); "
                            f"this run trains on {cfg.accelerator}")
    return float(cfg.client_gpus)


def _gpu_count() -> int:
    import torch

    return int(torch.cuda.device_count())




class _NoErrors(logging.Filter):
    """Keep Flower's ERROR records (multi-line Ray tracebacks) off the console: they go to the log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


class _ErrorsToFile(logging.Handler):
    """Append Flower's ERROR records to RUN_DIR/flower.log (made on first use; a write failure drops them)."""

    def __init__(self, path: Path) -> None:
        super().__init__(level=logging.ERROR)
        self.path = path
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        from ...traces.rundir import append_log

        append_log(self.path, self.format(record) + "\n")  # the failure itself is in the trace and on stderr


class _DropKnownNotices(logging.Filter):
    """Drop the notices we acted on knowingly (run_simulation's deprecation: see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`run_simulation` function is deprecated" not in record.getMessage()


def _quiet_flower(verbose: bool) -> None:
    """Flower logs every message at INFO; keep WARNING and above unless asked, without known notices."""
    logger = logging.getLogger("flwr")
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not any(isinstance(f, _DropKnownNotices) for f in logger.filters):
        logger.addFilter(_DropKnownNotices())
    # Ray's notice about GPU env vars it will stop overriding; we ask for no GPUs anyway.
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
