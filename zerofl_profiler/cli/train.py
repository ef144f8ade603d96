"""`zerofl-profile train`: wire options into a RunConfig and run an engine; progress on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from .options import emit_json, resolve_sparsity, sparsity_options, stderr_console

#: click parameter -> RunConfig key, for options that map one to one.
_DIRECT = {
    "clients": "clients", "clients_per_round": "clients_per_round", "rounds": "rounds",
    "local_epochs": "local_epochs", "batch_size": "batch_size", "lr_start": "lr_start", "lr_end": "lr_end",
    "mask_ratio": "mask_ratio", "upload": "upload", "encoding": "encoding", "dataset": "dataset",
    "data_dir": "data_dir", "model": "model", "seed": "seed", "on_client_error": "on_client_error",
    "engine": "engine", "aggregation": "aggregation", "mask_every": "mask_every", "energy": "energy",
    "mask_schedule": "mask_schedule",
    "momentum": "momentum", "name": "name", "threads": "threads",
}


def build_config(config_file: str | None, out: str, resume: bool, opts: dict[str, Any]) -> Any:
    """defaults < stored run config (--resume) < --config file < command-line flags."""
    from ..fl.config import from_mapping, read_toml
    from ..fl.engine import stored_config

    base: dict[str, Any] = {}
    if resume:
        base.update(stored_config(out).to_dict())
    if config_file:
        base.update(read_toml(config_file))
    over = {key: opts[p] for p, key in _DIRECT.items() if opts.get(p) is not None}
    if opts.get("iid") and opts.get("alpha") is not None:
        raise ConfigError("--alpha and --iid exclude each other (--iid is the IID partition)")
    if opts.get("iid"):
        over["partition"] = "iid"
    if opts.get("alpha") is not None:
        over["partition"], over["alpha"] = "lda", opts["alpha"]
    if any(opts.get(k) is not None for k in ("sparsity", "weight_sparsity", "activation_sparsity")):
        from ..fl.config import RunConfig

        cur = float(base.get("sparsity", RunConfig.sparsity))  # what the split flags start from
        ch = resolve_sparsity(opts.get("sparsity"), opts.get("weight_sparsity"), opts.get("activation_sparsity"),
                              default=cur)
        over["sparsity"] = ch.weight
        over["activation_sparsity"] = None if ch.activation == ch.weight else ch.activation
    if opts.get("dense_layers") is not None:
        over["dense_layers"] = [s.strip() for s in opts["dense_layers"].split(",") if s.strip()]
    return from_mapping({**base, **over})


class RichProgress:
    """Rounds bar plus clients-in-round bar on stderr, and one line per finished round."""

    def __init__(self, rounds: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = stderr_console()
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=self.console, transient=True)
        self.rounds = self.bar.add_task("rounds", total=rounds)
        self.clients = self.bar.add_task("clients", total=1)

    def __enter__(self) -> "RichProgress":
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def __call__(self, ev: Any) -> None:
        if ev.kind == "start":
            self.bar.update(self.rounds, completed=ev.round - 1)
            if ev.message:
                self.console.print(ev.message)
        elif ev.kind == "client":
            self.bar.update(self.clients, total=ev.clients_in_round, completed=ev.client_index,
                            description=f"round {ev.round} clients")
            if ev.status != "ok":
                self.console.print(f"[yellow]round {ev.round}: client {ev.client_id} failed[/]")
        elif ev.kind == "round":
            self.bar.update(self.rounds, completed=ev.round)
            self.console.print(f"round {ev.round:>3}/{ev.rounds}  accuracy {ev.accuracy:.4f}  loss {ev.loss:.4f}")
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
    ratio = summary.flops_sparse / summary.flops_dense if summary.flops_dense else float("nan")
    rows = [("run dir", summary.run_dir), ("run id", summary.run_id),
            ("rounds", f"{summary.rounds_completed}/{summary.rounds_total}"),
            ("test accuracy (final / best)", f"{acc} / {best}"),
            ("client-rounds ok / failed", f"{summary.client_rounds_ok} / {summary.client_rounds_failed}"),
            ("training FLOPs sparse / dense", f"{fmt_flops(summary.flops_sparse)} / {fmt_flops(summary.flops_dense)}"
                                              f" ({ratio:.3f})"),
            ("bytes up (encoded / dense)", f"{fmt_bytes(summary.bytes_up)} / {fmt_bytes(summary.bytes_up_dense)}"),
            ("bytes down", fmt_bytes(summary.bytes_down)),
            ("client wall time", fmt_time(summary.client_wall_time_s)),
            ("run wall time", fmt_time(summary.run_wall_time_s))]
    for k, v in rows:
        t.add_row(k, v)
    stderr_console().print(t)


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
@click.option("--momentum", type=float, default=None, help="SGD momentum (default 0).")
@sparsity_options
@click.option("--mask-every", type=int, default=None, help="Recompute SWAT masks every N local steps.")
@click.option("--mask-schedule", default=None, metavar="NAME",
              help="What stays frozen between refreshes: fixed-positions (default; weight positions, exact "
                   "activation top-k every step) or swat-threshold (both k-th values, as SWAT).")
@click.option("--dense-layers", default=None, metavar="NAME,...",
              help="Layers kept dense (default: the first conv; empty string: none).")
@click.option("--mask-ratio", type=float, default=None, help="Extra upload density on top of 1 - sparsity.")
@click.option("--upload", type=click.Choice(["dense", "topk-weights", "diff-topk-weights", "topk-diff"]),
              default=None, help="What clients send (ZeroFL variants).")
@click.option("--encoding", type=click.Choice(["csr", "bitmask", "dense"]), default=None,
              help="How a sparse upload is encoded.")
@click.option("--aggregation", default=None, metavar="NAME", help="fedavg (default) or masked-mean.")
@click.option("--alpha", type=float, default=None, help="LDA (Dirichlet) concentration; 1.0 non-IID, 1000 ~ IID.")
@click.option("--iid", is_flag=True, default=False, help="IID partition instead of LDA.")
@click.option("--dataset", default=None, metavar="NAME", help="digits (default, shipped), cifar10, synthetic.")
@click.option("--data-dir", type=click.Path(), default=None, help="Where the data set's files are (cifar10).")
@click.option("--model", default=None, metavar="NAME|SPEC", help="Built-in name or pkg.mod:factory / file.py:factory.")
@click.option("--seed", type=int, default=None, help="Seed for partition, sampling, init and training.")
@click.option("--on-client-error", type=click.Choice(["stop", "skip"]), default=None,
              help="A failing client (NaN loss included) stops the run or is skipped.")
@click.option("--engine", type=click.Choice(["inprocess", "flower"]), default=None,
              help="In-process loop (default) or Flower simulation.")
@click.option("--energy", default=None, metavar="BACKEND", help="Energy backend: auto (NVML+RAPL where present, else a labelled estimate), nvml, rapl, codecarbon, estimate, none.")
@click.option("--threads", type=int, default=None, help="torch intra-op threads (default 1; 0 = torch default).")
@click.option("--name", default=None, help="A label for reports.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory to write.")
@click.option("--resume", is_flag=True, default=False, help="Continue an interrupted run in --out.")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the summary as JSON on stdout.")
@click.option("--quiet", is_flag=True, default=False, help="No progress display.")
def train(config_file: str | None, out: str, resume: bool, as_json: bool, quiet: bool, **opts: Any) -> None:
    """Train a sparse federated model and write RUN_DIR (config, trace, rounds, layers, checkpoint)."""
    if resume and not Path(out).exists():
        raise ConfigError(f"--resume: run directory {out} does not exist")
    cfg = build_config(config_file, out, resume, opts)
    if cfg.engine == "flower":
        from ..fl.flower import run_flower  # lazy: only this engine needs flwr

        runner: Any = run_flower
    else:
        from ..fl.engine import run as runner
    if quiet or as_json:
        summary = runner(cfg, out, resume, progress=False)
    else:
        with RichProgress(cfg.rounds) as prog:
            summary = runner(cfg, out, resume, progress=prog)
    if as_json:
        emit_json(summary.to_dict())
    else:
        render_summary(summary)
