"""`zerofl-profile calibrate`: time micro-benchmarks on this machine and write the `host` device file."""

from __future__ import annotations

import click

from .options import emit_json, stderr_console


@click.command("calibrate")
@click.option("--out", "out", default=None, metavar="FILE.toml", type=click.Path(dir_okay=False),
              help="Where to write the device file (default: where `host` is read from: $ZEROFL_HOST_DEVICE "
                   "if set, else $XDG_CONFIG_HOME or ~/.config, /zerofl-profiler/host.toml).")
@click.option("--quick", is_flag=True, help="A few seconds of benchmarks (smoke tests; rougher numbers).")
@click.option("--threads", type=int, default=None, help="torch intra-op threads while timing (default: torch's).")
@click.option("--clock", default="wall", show_default=True, type=click.Choice(["wall", "cpu"]),
              help="wall: elapsed time. cpu: process CPU time, for a shared machine (needs --threads 1).")
@click.option("--rounds", type=int, default=None, help="Interleaved timing rounds (default 7; --quick 3).")
@click.option("--cpu-only", is_flag=True, help="Skip the GPU even when CUDA is available.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def calibrate(out: str | None, quick: bool, threads: int | None, clock: str, rounds: int | None, cpu_only: bool,
              as_json: bool) -> None:
    """Fit this machine's cost-model parameters (FLOP/s per op class, bandwidth, overhead, sparse efficiency)."""
    import os

    from ..errors import BadInputError
    from ..hardware_models.catalogue import HOST_ENV, user_host_file

    if threads is not None and threads < 1:
        raise BadInputError(f"--threads must be a positive integer, got {threads}")
    if rounds is not None and rounds < 1:
        raise BadInputError(f"--rounds must be a positive integer, got {rounds}")
    if clock == "cpu" and threads != 1:
        raise BadInputError("--clock cpu needs --threads 1 (CPU time sums the threads of the process)")
    target = out if out is not None else (os.environ.get(HOST_ENV) or str(user_host_file()))
    if not target.endswith(".toml"):
        raise BadInputError(f"--out must name a .toml file (device files are TOML), got {target!r}")

    from ..calibration.device_file import check_writable, write_device_file
    from ..calibration.run import available_units, calibrate_host, threads_set

    check_writable(target)

    console = stderr_console()
    units = ["cpu"] if cpu_only else available_units()
    with threads_set(threads):
        res = calibrate_host(quick=quick, clock=clock, units=units, rounds=rounds,
                             progress=None if as_json else (lambda m: console.print(f"[dim]{m}[/dim]")))
    path = write_device_file(res, target)
    doc = res.to_json()
    doc["device_file"] = str(path)
    if as_json:
        emit_json(doc)
        return
    _render(res, str(path), console)


def _render(res: object, path: str, console: object) -> None:
    from rich.table import Table

    from ..calibration.run import efficiencies
    from ..units import fmt_bytes, fmt_flops, fmt_time

    for u in res.units:  # type: ignore[attr-defined]
        p = u.fit.params
        t = Table(title=f"calibrated {u.unit} ({len(u.cases)} benchmarks, {u.wall_s:.0f} s, clock {u.clock})")
        for col in ("parameter", "value", "note"):
            t.add_column(col)
        t.add_row("peak FP32", f"{fmt_flops(u.peak_flops)}/s", f"best GEMM/conv: {u.peak_case}")
        for c, e in efficiencies(u).items():
            note = "fitted" if c in u.fit.measured_classes else "never compute-bound: no limit"
            t.add_row(f"efficiency.{c}", f"{e:.4g}", note)
        t.add_row("bandwidth", f"{fmt_bytes(p.mem_bandwidth_bytes_per_s)}/s",
                  f"copies alone: {fmt_bytes(u.fit.copy_bandwidth_bytes_per_s)}/s")
        t.add_row("overhead / row", fmt_time(p.kernel_overhead_s), "per layer x phase of a training step")
        t.add_row("sparse efficiency", f"{p.sparse_efficiency:.3g}", "SWAT steps vs dense")
        t.add_row("fit error", f"{u.fit.mape:.1%}", f"in-sample MAPE; measurement spread {u.noise_floor:.1%}")
        console.print(t)  # type: ignore[attr-defined]
    console.print(f"wrote {path}; use it as --device host or --device-file {path}")  # type: ignore[attr-defined]
