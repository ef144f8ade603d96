"""Small device and network TOML files with round numbers, so tests can compute costs by hand."""

from __future__ import annotations

from pathlib import Path

SRC = '{kind = "assumption", ref = "test", quote = "round number for a hand check"}'


def device_toml(name: str = "toy", *, peak: float = 1e9, bw: float = 1e9, overhead: float = 0.0,
                sparse_eff: float = 0.5, idle: float = 1.0, active: float = 3.0, gemm: float = 0.5,
                elementwise: float = 0.25, energy_mode: str = "active_power", ram: float = 1e9,
                extra_unit: str = "") -> str:
    """A one-unit device file (cpu) with every number explicit."""
    energy = (f"active_power_w = {{value = {active}, source = {SRC}}}" if energy_mode == "active_power" else
              f"energy_per_flop_j = {{value = 1e-9, source = {SRC}}}\n"
              f"energy_per_byte_j = {{value = 1e-10, source = {SRC}}}")
    return f"""
schema = 1
name = "{name}"
display_name = "toy device"
category = "cpu"
energy_mode = "{energy_mode}"
ram_bytes = {{value = {ram}, source = {SRC}}}

[units.cpu]
peak_flops = {{value = {peak}, source = {SRC}}}
mem_bandwidth_bytes_per_s = {{value = {bw}, source = {SRC}}}
kernel_overhead_s = {{value = {overhead}, source = {SRC}}}
sparse_efficiency = {{value = {sparse_eff}, source = {SRC}}}
idle_power_w = {{value = {idle}, source = {SRC}}}
{energy}

[units.cpu.efficiency]
gemm = {{value = {gemm}, source = {SRC}}}
elementwise = {{value = {elementwise}, source = {SRC}}}
{extra_unit}
"""


def write_device(tmp_path: Path, text: str | None = None, filename: str = "toy.toml", **kw: object) -> Path:
    """Write a device file and return its path."""
    p = tmp_path / filename
    p.write_text(text if text is not None else device_toml(**kw), encoding="utf-8")  # type: ignore[arg-type]
    return p


def network_dict(**over: float) -> dict:
    """A network document with round numbers (rates in byte/s)."""
    vals = {"uplink_bytes_per_s": 1000.0, "downlink_bytes_per_s": 4000.0, "energy_per_bit_up_j": 1e-3,
            "energy_per_bit_down_j": 1e-4, "base_power_w": 2.0, "tail_time_s": 5.0, "tail_power_w": 0.5,
            "promotion_time_s": 0.25, "promotion_power_w": 4.0}
    vals.update(over)
    d: dict = {"schema": 1, "name": "toynet"}
    for k, v in vals.items():
        d[k] = {"value": v, "source": {"kind": "assumption", "ref": "test", "quote": "hand check"}}
    return d
