"""`zerofl-profile measure`: run a command under the energy meter, or list the backends."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Sequence

import click

from ..errors import BadInputError
from ..power import Meter, Window
from ..traces.schema import EnergyBlock
from ..units import fmt_time
from .options import emit_json, stderr_console, stdout_console


def _avg_power_w(block: EnergyBlock | None) -> float | None:
    if block is None or block.total_j is None or not block.duration_s:
        return None
    return block.total_j / block.duration_s


def _exit_code(rc: int) -> int:
    """A signal death becomes 128+signal, as shells report it."""
    return 128 - rc if rc < 0 else rc


def run_measured(cmd: Sequence[str], meter: Meter, *, stdout_to_stderr: bool) -> tuple[int, Window]:
    """Run the command inside one meter window and return (exit code, window)."""
    with meter.window("command") as win:
        try:
            proc = subprocess.Popen(list(cmd), stdout=sys.stderr if stdout_to_stderr else None)
        except FileNotFoundError:
            raise BadInputError(f"command not found: {cmd[0]}") from None
        except PermissionError:
            raise BadInputError(f"command is not executable: {cmd[0]}") from None
        except OSError as exc:
            raise BadInputError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from None
        try:
            rc = proc.wait()
        except KeyboardInterrupt:  # the child got the same SIGINT; wait for it to finish
            rc = proc.wait()
    return _exit_code(rc), win


def _list(as_json: bool) -> None:
    from ..power import available_backends

    rows = available_backends()
    if as_json:
        emit_json({"backends": [r.to_dict() for r in rows]})
        return
    from rich.table import Table

    t = Table(title="energy backends (auto: nvml + rapl, else estimate)")
    for col in ("backend", "kind", "available", "why"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r.name, r.kind, "yes" if r.available else "no", r.reason)
    stdout_console().print(t)  # the table is the data this command prints


def _block_rows(label: str, block: EnergyBlock) -> list[tuple[str, str]]:
    from ..units import fmt_energy

    rows = [(f"{label} source", f"{block.source} ({block.method})")]
    rows += [(f"{label} {k}", fmt_energy(v)) for k, v in block.domains_j.items()]
    if block.total_j is not None:
        rows.append((f"{label} total", fmt_energy(block.total_j)))
    p = _avg_power_w(block)
    if p is not None:
        rows.append((f"{label} average power", f"{p:.3g} W"))
    if block.emissions_g is not None:
        rows.append((f"{label} emissions", f"{block.emissions_g:.3g} gCO2eq"))
    rows += [(f"{label} flag", f) for f in block.flags]
    return rows


def _render(cmd: Sequence[str], code: int, win: Any) -> None:
    from rich.table import Table

    res: EnergyBlock = win.result
    t = Table(title="measure", show_header=False)
    t.add_column("what")
    t.add_column("value", overflow="fold")
    t.add_row("command", " ".join(cmd))
    t.add_row("exit code", str(code))
    t.add_row("wall time", fmt_time(res.duration_s or 0.0))
    if res.source == "none":
        t.add_row("measured", "nothing measured (see skipped)")
    else:
        for k, v in _block_rows("measured", res):
            t.add_row(k, v)
    if win.estimate is not None:
        for k, v in _block_rows("estimate", win.estimate):
            t.add_row(k, v)
    for k, v in res.skipped.items():
        t.add_row(f"skipped {k}", v)
    stderr_console().print(t)


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--list", "list_", is_flag=True, help="Show each backend, available or not, and why.")
@click.option("--backend", default="auto", show_default=True, metavar="auto|nvml|rapl|codecarbon|estimate",
              help="Energy backend (auto: nvml + rapl where available, else estimate).")
@click.option("--interval", "interval_s", type=float, default=0.1, show_default=True, metavar="S",
              help="Sampling interval of the background thread (power integration, RAPL wraps).")
@click.option("--country", default=None, metavar="ISO3",
              help="Electricity-mix country for codecarbon emissions (ISO 3166-1 alpha-3, e.g. FRA).")
@click.option("--estimate/--no-estimate", "estimate", default=None,
              help="Also compute the CPU-time x power estimate (default: only when nothing is measured).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON document on stdout (the command's stdout goes to stderr).")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
def measure(list_: bool, backend: str, interval_s: float, country: str | None, estimate: bool | None,
            as_json: bool, cmd: tuple[str, ...]) -> int:
    """Run CMD and report its wall time, energy per domain, average power, source and emissions.

    Usage: zerofl-profile measure [OPTIONS] -- CMD ARGS...   The command's exit code is passed through.
    """
    if list_:
        _list(as_json)
        return 0
    if not cmd:
        raise BadInputError("no command to measure: use `zerofl-profile measure [OPTIONS] -- CMD ARGS...` "
                            "or `zerofl-profile measure --list`")
    from ..power import make_meter

    meter = make_meter(backend, interval_s=interval_s, country_iso=country, estimate=estimate)
    try:
        code, win = run_measured(cmd, meter, stdout_to_stderr=as_json)
    finally:
        meter.close()
    if as_json:
        emit_json({"command": list(cmd), "exit_code": code, "wall_time_s": win.result.duration_s,
                   "energy": win.result.to_dict(), "average_power_w": _avg_power_w(win.result),
                   "energy_estimate": win.estimate.to_dict() if win.estimate is not None else None,
                   "estimate_average_power_w": _avg_power_w(win.estimate),
                   "backends": getattr(meter, "sources", [])})
    else:
        _render(cmd, code, win)
    return code
