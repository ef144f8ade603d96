"""`zerofl-profile train`: wire options into a RunConfig and run an engine; progress on stderr."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any, Iterator

import click

from ..config import EVAL_MODES, RunConfig
from ..errors import ConfigError, StoppedError
from ..traces.rundir import RunDir
from ..vocab import CLIENT_ERROR_POLICIES, ENCODINGS, ENGINES, UPLOADS
from .options import MODEL_HELP, emit_json, parse_dense_layers, resolve_sparsity, sparsity_options, stderr_console

#: click parameter -> RunConfig key, for options that map one to one.
_DIRECT = {
    "clients": "clients", "clients_per_round": "clients_per_round", "rounds": "rounds",
    "local_epochs": "local_epochs", "batch_size": "batch_size", "lr_start": "lr_start", "lr_end": "lr_end",
    "mask_ratio": "mask_ratio", "upload": "upload", "encoding": "encoding", "dataset": "dataset",
    "data_dir": "data_dir", "model": "model", "seed": "seed", "on_client_error": "on_client_error",
    "engine": "engine", "aggregation": "aggregation", "mask_every": "mask_every", "energy": "energy",
    "momentum": "momentum", "name": "name", "threads": "threads", "accelerator": "accelerator",
    "client_gpus": "client_gpus", "sparse_kernels": "sparse_kernels", "mask_structure": "mask_structure",
    "weight_decay": "weight_decay", "eval_batch_size": "eval_batch_size", "eval_every": "eval_every",
    "eval_mode": "eval_mode", "augment": "augment",
    "mask_schedule": "mask_schedule",
}


def build_config(config_file: str | None, out: str | RunDir, resume: bool, opts: dict[str, Any]) -> RunConfig:
    """defaults < stored run config (--resume) < --config file < command-line flags."""
    from ..config import convert_mapping, from_mapping, read_toml
    from ..fl.engine import stored_config

    base: dict[str, Any] = {}
    if resume:
        base.update(stored_config(out).to_dict())
    if config_file:
        file_opts = read_toml(config_file)
        convert_mapping(file_opts, config_file)  # a wrong-typed key is reported even if a flag overrides it
        base.update(file_opts)
    over = {key: opts[p] for p, key in _DIRECT.items() if opts.get(p) is not None}
    if opts.get("iid") and opts.get("alpha") is not None:
        raise ConfigError("--alpha and --iid exclude each other (--iid is the IID partition)")
    if opts.get("iid"):
        over["partition"] = "iid"
    if opts.get("alpha") is not None:
        over["partition"], over["alpha"] = "lda", opts["alpha"]
    if any(opts.get(k) is not None for k in ("sparsity", "weight_sparsity", "activation_sparsity")):
        cur = float(base.get("sparsity", RunConfig.sparsity))  # what the split flags start from
        ch = resolve_sparsity(opts.get("sparsity"), opts.get("weight_sparsity"), opts.get("activation_sparsity"),
                              default=cur)
        over["sparsity"] = ch.weight
        over["activation_sparsity"] = None if ch.activation == ch.weight else ch.activation
    if opts.get("dense_layers") is not None:
        over["dense_layers"] = parse_dense_layers(opts["dense_layers"])
    return from_mapping({**base, **over})


class RichProgress:
    """Rounds bar plus clients-in-round bar on stderr, and one line per finished round."""

    def __init__(self, rounds: int) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.console = stderr_console()
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=self.console,
                            transient=True)
        self.rounds = self.bar.add_task("rounds", total=rounds)
        self.clients = self.bar.add_task("clients", total=1)

    def __enter__(self) -> "RichProgress":
        self.started = False  # the bar starts with the first event: a run refused in set-up prints one line only
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            self.bar.stop()

    def __call__(self, ev: Any) -> None:
        if not self.started:
            self.bar.start()
            self.started = True
        if ev.kind == "start":
            self.bar.update(self.rounds, completed=ev.round - 1)
            if ev.message:
                self.console.print(ev.message)
        elif ev.kind == "client":
            self.bar.update(self.clients, total=ev.clients_in_round, completed=ev.client_index,
                            description=f"round {ev.round} clients")
            if ev.status != "ok":  # one line per failed client (the Flower engine says why)
                self.console.print(ev.message or f"round {ev.round}: client {ev.client_id} failed",
                                   style="yellow", markup=False, highlight=False)
        elif ev.kind == "round":
            self.bar.update(self.rounds, completed=ev.round)
            self.console.print(f"round {ev.round:>3}/{ev.rounds}  {ev.scores()}")
        elif ev.kind == "done" and ev.message:
            self.console.print(ev.message)


def render_summary(summary: Any) -> None:
    """The short end-of-run table on stderr."""
    from rich.table import Table

    from ..units import fmt_bytes, fmt_flops, fmt_time

    t = Table(title="run summary" + (" (already finished)" if summary.already_finished else ""),
              show_header=False)
    acc = "-" if summary.final_accuracy is None else f"{summary.final_accuracy:.4f}"
    best = "-" if summary.best_accuracy is None else f"{summary.best_accuracy:.4f}"
    ratio = f"{summary.flops_sparse / summary.flops_dense:.3f}" if summary.flops_dense else "-"
    rows = [("run dir", summary.run_dir), ("run id", summary.run_id),
            ("rounds", f"{summary.rounds_completed}/{summary.rounds_total}"),
            ("test accuracy (final / best)", f"{acc} / {best}"),
            ("client-rounds ok / failed", f"{summary.client_rounds_ok} / {summary.client_rounds_failed}"),
            ("training FLOPs sparse / dense", f"{fmt_flops(summary.flops_sparse)} / {fmt_flops(summary.flops_dense)}"
                                              f" ({ratio})"),
            ("bytes up (encoded / dense)", f"{fmt_bytes(summary.bytes_up)} / {fmt_bytes(summary.bytes_up_dense)}"),
            ("bytes down", fmt_bytes(summary.bytes_down)),
            ("client wall time", fmt_time(summary.client_wall_time_s)),
            ("run wall time", fmt_time(summary.run_wall_time_s))]
    for k, v in rows:
        t.add_row(k, v)
    stderr_console().print(t)


class _Signalled(KeyboardInterrupt):
    """SIGTERM delivered as an interrupt, so every ``finally`` in the engine runs as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def resume_command(out: str) -> str:
    """The exact command that continues the run in ``out`` (the stored config supplies every option)."""
    import shlex

    return f"zerofl-profile train --out {shlex.quote(str(out))} --resume"


@contextlib.contextmanager
def stop_on_signals(out: str) -> Iterator[None]:
    """SIGINT or SIGTERM during a run: say it stopped and how to continue, exit 128 + signal."""
    import signal

    def on_term(signum: int, frame: object) -> None:
        raise _Signalled(signum)

    old = signal.signal(signal.SIGTERM, on_term) if threading.current_thread() is threading.main_thread() else None
    try:
        yield
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, _Signalled) else signal.SIGINT
        name = signal.Signals(signum).name
        raise StoppedError(f"stopped by {name}; the finished rounds are kept in {out}. "
                           f"Continue with: {resume_command(out)}", 128 + signum) from None
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


@click.command("train")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML file with any of the options below (flags override it).")
@click.option("--clients", type=int, default=None, help="Number of clients N.")
@click.option("--clients-per-round", type=int, default=None, help="Clients sampled per round K.")
@click.option("--rounds", type=int, default=None, help="Federated rounds R.")
@click.option("--local-epochs", type=int, default=None, help="Local epochs per round.")
@click.option("--batch-size", type=int, default=None, help="Local mini-batch size.")
@click.option("--lr-start", type=float, default=None, help="Learning rate in round 1.")
@click.option("--lr-end", type=float, default=None, help="Learning rate in the last round (exponential decay).")
@click.option("--momentum", type=float, default=None, help="SGD momentum.")
@click.option("--weight-decay", type=float, default=None, help="SGD weight decay (L2).")
@click.option("--augment/--no-augment", default=None,
              help="Random crop (4-px padding) + horizontal flip per batch; default on where the data set has one (cifar10).")
@click.option("--eval-every", type=int, default=None, metavar="N",
              help="Evaluate every N rounds (and always the last); other rounds record null accuracy.")
@click.option("--eval-mode", type=click.Choice(EVAL_MODES), default=None,
              help="Evaluate the top-k sparse model (default, as ZeroFL), the dense weights, or both.")
@click.option("--eval-batch-size", type=int, default=None, help="Batch size of the server's evaluation.")
@sparsity_options
@click.option("--mask-every", type=int, default=None, help="Recompute SWAT masks every N local steps.")
@click.option("--mask-structure", default=None, metavar="unstructured|2:4",
              help="SWAT weight mask: unstructured top-k, or 2:4 (top 2 of every 4 weights along the reduction "
                   "axis; needs --weight-sparsity 0.5).")
@click.option("--sparse-kernels", default=None, metavar="off|auto|csr|semi-structured",
              help="Run SWAT's products on real sparse kernels: CSR on the CPU (auto: only below the host's "
                   "measured break-even density), 2:4 semi-structured on NVIDIA Ampere+; off = masked dense.")
@click.option("--mask-schedule", default=None, metavar="NAME",
              help="What stays frozen between refreshes: fixed-positions (default; weight positions, exact "
                   "activation top-k every step) or swat-threshold (both k-th values, as SWAT).")
@click.option("--dense-layers", default=None, metavar="NAME,...",
              help="Layers kept dense, replacing the default (the first conv); 'none' for no dense layer.")
@click.option("--mask-ratio", type=float, default=None, help="Extra upload density on top of 1 - sparsity.")
@click.option("--upload", type=click.Choice(UPLOADS),
              default=None, help="What clients send (ZeroFL variants).")
@click.option("--encoding", type=click.Choice(ENCODINGS), default=None,
              help="How a sparse upload is encoded.")
@click.option("--aggregation", default=None, metavar="NAME", help="fedavg (default) or masked-mean.")
@click.option("--alpha", type=float, default=None, help="LDA (Dirichlet) concentration; 1.0 non-IID, 1000 ~ IID.")
@click.option("--iid", is_flag=True, default=False, help="IID partition instead of LDA.")
@click.option("--dataset", default=None, metavar="NAME", help="digits (default, shipped), cifar10, synthetic.")
@click.option("--data-dir", type=click.Path(), default=None, help="Where the data set's files are (cifar10).")
@click.option("--model", default=None, metavar="NAME|SPEC", help=MODEL_HELP)
@click.option("--seed", type=int, default=None, help="Seed for partition, sampling, init and training.")
@click.option("--on-client-error", type=click.Choice(CLIENT_ERROR_POLICIES), default=None,
              help="A failing client (NaN loss included) stops the run or is skipped.")
@click.option("--engine", type=click.Choice(ENGINES), default=None,
              help="In-process loop (default) or Flower simulation.")
@click.option("--energy", default=None, metavar="BACKEND", help="Energy backend: auto (NVML+RAPL where present, else a labelled estimate), nvml, rapl, codecarbon, estimate, none.")
@click.option("--threads", type=int, default=None, help="torch intra-op threads (default 1; 0 = torch default).")
@click.option("--accelerator", default=None, metavar="auto|cpu|cuda|cuda:N|mps",
              help="Where clients train and the server evaluates: auto = the first CUDA GPU, else MPS, else the "
                   "CPU. A resumed run keeps its own unless this is given.")
@click.option("--client-gpus", type=float, default=None, metavar="F",
              help="Flower engine: GPU share of each Ray client actor, 0 < F <= 1 (default 1 with a GPU, else 0).")
@click.option("--name", default=None, help="A label for reports.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory to write.")
@click.option("--resume", is_flag=True, default=False, help="Continue an interrupted run in --out.")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the summary as JSON on stdout.")
@click.option("--quiet", is_flag=True, default=False, help="No progress display.")
def train(config_file: str | None, out: str, resume: bool, as_json: bool, quiet: bool, **opts: Any) -> None:
    """Train a sparse federated model and write RUN_DIR (config, trace, rounds, layers, checkpoint)."""
    if resume and not Path(out).exists():
        raise ConfigError(f"--resume: run directory {out} does not exist")
    rundir = RunDir(out)  # one reader of config.toml for the options and the engine
    cfg = build_config(config_file, rundir, resume, opts)
    if cfg.engine == "flower":
        from ..fl.flower import run_flower  # lazy: only this engine needs flwr

        runner: Any = run_flower
    else:
        from ..fl.engine import run as runner
    with stop_on_signals(out):
        if quiet or as_json:
            summary = runner(cfg, rundir, resume, progress=False)
        else:
            with RichProgress(cfg.rounds) as prog:
                summary = runner(cfg, rundir, resume, progress=prog)
    if as_json:
        emit_json(summary.to_dict())
    else:
        render_summary(summary)


def _show_run_defaults(cmd: click.Command) -> None:
    """Show RunConfig's defaults in --help: flags default to None so a --config file can sit between."""
    from dataclasses import MISSING, fields

    from ..config import RunConfig

    defaults = {f.name: f.default for f in fields(RunConfig) if f.default is not MISSING}
    keys = {**_DIRECT, "alpha": "alpha", "sparsity": "sparsity", "weight_sparsity": "sparsity"}
    for p in cmd.params:
        key = keys.get(p.name or "")
        if not isinstance(p, click.Option) or key not in defaults or defaults[key] is None:
            continue
        if "[default" not in (p.help or ""):
            p.help = f"{p.help or ''}  [default: {defaults[key]}]".strip()


_show_run_defaults(train)
