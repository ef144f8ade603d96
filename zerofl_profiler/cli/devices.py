"""`zerofl-profile devices`: list the device catalogue, or show one device with every source."""

from __future__ import annotations

import click

from .options import emit_json


def _peak_row(spec: object) -> list[str]:
    from ..units import fmt_bytes, fmt_flops

    units = []
    for u, unit in spec.units.items():  # type: ignore[attr-defined]
        units.append(f"{u}: {fmt_flops(unit.peak_flops.value)}/s, {fmt_bytes(unit.mem_bandwidth_bytes_per_s.value)}/s")
    return units


@click.group("devices", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.pass_context
def devices(ctx: click.Context, as_json: bool) -> None:
    """List the device catalogue (names follow DEVICE[-UNIT][@MODE]) and the networks."""
    if ctx.invoked_subcommand is not None:
        return
    from ..hardware_models import load_catalogue, load_networks
    from ..hardware_models.catalogue import host_device_source
    from ..units import fmt_memory

    cat = load_catalogue()
    nets = load_networks()
    if as_json:
        emit_json({"devices": [{"name": s.name, "display_name": s.display_name, "category": s.category,
                                "names": s.variant_names(), "units": list(s.units), "modes": list(s.modes),
                                "default_mode": s.default_mode, "energy_mode": s.energy_mode,
                                "ram_bytes": s.ram_bytes.value,
                                "peak_flops": {u: x.peak_flops.value for u, x in s.units.items()},
                                "assumptions": sum(q.source.kind == "assumption" for q in s.quantities().values()),
                                "numbers": len(s.quantities())}
                               for s in cat.values()],
                   "networks": [n.to_json() for n in nets.values()],
                   "host_file": host_device_source()})
        return
    from rich.table import Table

    t = Table(title="device catalogue (zerofl-profile devices show NAME for sources)")
    for col in ("name", "@modes", "device", "peak FP32, bandwidth", "RAM", "numbers (assumed)"):
        t.add_column(col, no_wrap=col in ("name",))
    for s in cat.values():
        qs = s.quantities()
        n_assumed = sum(q.source.kind == "assumption" for q in qs.values())
        names = [f"{s.name}-{u}" for u in s.units] if len(s.units) > 1 else [s.name]
        modes = " ".join(f"@{m}" + ("*" if m == s.default_mode else "") for m in s.modes)
        t.add_row("\n".join(names), modes, s.display_name, "\n".join(_peak_row(s)),
                  fmt_memory(s.ram_bytes.value), f"{len(qs)} ({n_assumed})")
    nt = Table(title="networks")
    for col in ("name", "network", "up / down", "tail"):
        nt.add_column(col)
    for n in nets.values():
        nt.add_row(n.name, n.display_name,
                   f"{n.value('uplink_bytes_per_s') * 8 / 1e6:.3g} / "
                   f"{n.value('downlink_bytes_per_s') * 8 / 1e6:.3g} Mbit/s",
                   f"{n.value('tail_time_s'):.3g} s at {n.value('tail_power_w'):.3g} W")
    from rich.console import Console

    con = Console(width=max(Console().width, 160))  # wide tables: never cut names off
    con.print(t)
    con.print(nt)
    con.print(f"host resolves to: {host_device_source()}")


@devices.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def show(name: str, as_json: bool) -> None:
    """Show one device (any name of the grammar, or a .toml file) with every number's source."""
    from ..hardware_models.catalogue import get_device, parse_name

    if name.endswith(".toml"):
        spec, unit, mode = get_device(name), None, None
    else:
        dev, unit, mode = parse_name(name)
        spec = get_device(dev)
    prof = spec.profile(unit, mode)
    if as_json:
        emit_json({"resolved": prof.to_json(), "spec": spec.to_json()})
        return
    from rich.console import Console
    from rich.table import Table

    from ..units import fmt_field

    t = Table(title=f"{prof.name}: {spec.display_name}")
    for col in ("field", "value", "kind", "source"):
        t.add_column(col, overflow="fold")
    for path, q in spec.quantities().items():
        t.add_row(path, fmt_field(path, q.value), q.source.kind, f"{q.source.ref}: {q.source.quote}")
    for un, u in spec.units.items():  # schema-2 tables that are not single numbers
        c = u.sparse_efficiency_curve
        if c is not None:
            t.add_row(f"units.{un}.sparse_efficiency_curve",
                      ", ".join(f"{d:g}:{e:g}" for d, e in zip(c.density, c.efficiency)), c.source.kind,
                      f"{c.source.ref}: {c.source.quote}")
        for where, prec in [("", u.precision)] + [(f"runtimes.{r}.", rt.precision) for r, rt in u.runtimes.items()]:
            if prec:
                t.add_row(f"units.{un}.{where}precision", ", ".join(f"{k}={v}" for k, v in prec.items()), "-", "-")
    con = Console(width=max(Console().width, 160))  # wide tables: never cut names off
    con.print(t)
    con.print(f"energy mode: {spec.energy_mode}; units: {', '.join(spec.units)}; "
              f"modes: {', '.join(spec.modes) or 'none'}; names: {', '.join(spec.variant_names())}")
