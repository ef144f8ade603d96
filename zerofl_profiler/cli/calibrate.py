"""`zerofl-profile calibrate`: time micro-benchmarks on this machine and write the `host` device file."""

from __future__ import annotations

import click

from .options import emit_json, stderr_console


@click.command("calibrate")
@click.option("--out", "out", default="host.toml", show_default=True, metavar="FILE.toml",
              type=click.Path(dir_okay=False), help="Where to write the calibrated device file.")
@click.option("--install", is_flag=True,
              help="Also install it as the `host` device ($ZEROFL_HOST_DEVICE if set, else $XDG_CONFIG_HOME or "
                   "~/.config, /zerofl-profiler/host.toml), saying what it replaced.")
@click.option("--quick", is_flag=True, help="A few seconds of benchmarks (smoke tests; rougher numbers).")
@click.option("--threads", type=int, default=1, show_default=True,
              help="torch intra-op threads while timing (1 with --clock cpu: robust on a shared machine).")
@click.option("--clock", default="cpu", show_default=True, type=click.Choice(["wall", "cpu"]),
              help="cpu: process CPU time (robust on a shared machine; needs --threads 1). wall: elapsed time.")
@click.option("--rounds", type=int, default=None, help="Interleaved timing rounds (default 7; --quick 3).")
@click.option("--cpu-only", is_flag=True, help="Skip the GPU even when CUDA is available.")
@click.option("--from-published", is_flag=True,
              help="Instead of timing this machine: fit the catalogue devices to the published measurements "
                   "(see `zerofl-profile fidelity`).")
@click.option("--write-catalogue", default=None, metavar="DIR", type=click.Path(file_okay=False),
              help="With --from-published: write the fitted devices' catalogue files (schema 2) into DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def calibrate(out: str, install: bool, quick: bool, threads: int, clock: str, rounds: int | None, cpu_only: bool,
              from_published: bool, write_catalogue: str | None, as_json: bool) -> None:
    """Fit this machine's cost-model parameters (FLOP/s per op class, bandwidth, overhead, sparse efficiency and
    the CPU's measured CSR sparse-efficiency curve)."""
    import os

    from ..errors import BadInputError
    from ..hardware_models.catalogue import HOST_ENV, user_host_file

    console = stderr_console()
    if write_catalogue is not None and not from_published:
        raise BadInputError("--write-catalogue needs --from-published")
    if from_published:
        _from_published(write_catalogue, as_json, console)
        return
    if threads < 1:
        raise BadInputError(f"--threads must be a positive integer, got {threads}")
    if rounds is not None and rounds < 1:
        raise BadInputError(f"--rounds must be a positive integer, got {rounds}")
    if clock == "cpu" and threads != 1:
        raise BadInputError("--clock cpu needs --threads 1 (CPU time sums the threads of the process); "
                            "use --clock wall for more threads")
    if not out.endswith(".toml"):
        raise BadInputError(f"--out must name a .toml file (device files are TOML), got {out!r}")
    host_target = os.environ.get(HOST_ENV) or str(user_host_file())

    from ..calibration.device_file import check_writable, install_host, write_device_file
    from ..calibration.run import available_units, calibrate_host, threads_set

    check_writable(out)
    if install:
        check_writable(host_target)
    units = ["cpu"] if cpu_only else available_units()
    with threads_set(threads):
        res = calibrate_host(quick=quick, clock=clock, units=units, rounds=rounds,
                             progress=None if as_json else (lambda m: console.print(f"[dim]{m}[/dim]")))
    path = write_device_file(res, out)
    doc = res.to_json()
    doc["device_file"] = str(path)
    replaced = None
    if install:
        replaced = install_host(path, host_target)
        doc["installed_as_host"] = host_target
        doc["replaced"] = replaced
    if as_json:
        emit_json(doc)
        return
    _render(res, str(path), console)
    if install:
        console.print(f"installed as host: {host_target} ({replaced or 'no previous file'})")


def _from_published(write_catalogue: str | None, as_json: bool, console: object) -> None:
    import os

    from ..calibration.published.fidelity import run_fidelity
    from ..calibration.published.rows import load_rows
    from ..calibration.published.summary import summary_lines, to_json
    from ..calibration.published.transfer import transferred_units
    from ..calibration.published.workloads import row_workload
    from ..calibration.published.write import write_catalogue as write
    from ..errors import BadInputError

    if write_catalogue is not None and not os.path.isdir(write_catalogue):
        raise BadInputError(f"--write-catalogue {write_catalogue}: not a directory")
    rep = run_fidelity(load_rows(), row_workload,
                       progress=None if as_json else (lambda m: console.print(f"[dim]{m}[/dim]")))  # type: ignore[attr-defined]
    written = [str(p) for p in write(rep, write_catalogue)] if write_catalogue else []
    if as_json:
        doc = to_json(rep)
        emit_json({"fits": doc["fits"], "summary": doc["summary"], "written": written})
        return
    for f in rep.fits.values():
        for d in f.devices.values():
            note = "too few rows: declared values kept" if d.status != "fitted" else f"fitted {', '.join(d.fitted)}"
            what = (f"compute peaks x {d.clock:.3g}" if d.mode else
                    f"efficiency.gemm {d.gemm_efficiency:.3g}, kernel_overhead_s {d.kernel_overhead_s:.3g}")
            name = f"{d.device}-{d.unit}" + (f"@{d.mode}" if d.mode else f" ({d.runtime})")
            click.echo(f"{name}: {note}; {what}, {len(d.rows)} rows; power: {d.power_status}")
    for _decl, t, _cls in transferred_units(rep.fits, rep.declared):
        power = f"from {', '.join(t.power_sources)}" if t.power_sources else "declared"
        click.echo(f"{t.device}-{t.unit} ({t.runtime}): no rows, carried over from {', '.join(t.sources)}; "
                   f"efficiency.gemm {t.gemm_efficiency:.3g}, kernel_overhead_s {t.kernel_overhead_s:.3g}; power: {power}")
    for line in summary_lines(rep):
        click.echo(line)
    for p in written:
        click.echo(f"wrote {p}")


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
        curve = u.sparse_curve
        if curve is not None:
            be = curve.break_even_density()
            for pt in sorted(curve.points, key=lambda q: -q.density):
                t.add_row(f"{curve.kernel} @ density {pt.density:g}", f"efficiency {pt.efficiency:.3g}",
                          f"x{pt.speedup:.2f} dense speed" + ("" if pt.speedup > 1 else "; dense wins"))
            m, k, n = curve.shape
            t.add_row(f"{curve.kernel} curve", f"{curve.wall_s:.0f} s", f"SWAT {curve.level} {m}x{k}, {n} rows, "
                      f"{curve.rounds} rounds")
            t.add_row("break-even density", "none" if be is None else f"{be:g}",
                      f"--sparse-kernels auto uses {curve.kernel} at or below it" if be is not None else
                      f"{curve.kernel} never beat dense: --sparse-kernels auto keeps every layer dense")
        t.add_row("fit error", f"{u.fit.mape:.1%}", f"in-sample MAPE; measurement spread {u.noise_floor:.1%}")
        console.print(t)  # type: ignore[attr-defined]
    console.print(f"wrote {path}; use it as --device host or --device-file {path}")  # type: ignore[attr-defined]
