"""Malformed or incomplete device/network files: a clear one-line error naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from _devfiles import SRC, device_toml, network_dict, write_device
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.hardware_models.spec import load_device_file, parse_network


def _err(tmp_path: Path, text: str) -> str:
    p = write_device(tmp_path, text)
    with pytest.raises(BadInputError) as exc:
        load_device_file(p)
    msg = str(exc.value)
    assert "\n" not in msg and str(p) in msg
    return msg


def test_valid_file_loads(tmp_path: Path) -> None:
    spec = load_device_file(write_device(tmp_path))
    prof = spec.profile()
    assert prof.name == "toy" and prof.peak_flops == 1e9 and prof.eff("topk") == 0.25  # falls back to elementwise


@pytest.mark.parametrize("needle,field", [
    ("peak_flops = ", "units.cpu.peak_flops"),
    ("mem_bandwidth_bytes_per_s = ", "units.cpu.mem_bandwidth_bytes_per_s"),
    ("sparse_efficiency = ", "units.cpu.sparse_efficiency"),
    ("active_power_w = ", "units.cpu.active_power_w"),
    ("gemm = ", "units.cpu.efficiency.gemm"),
    ("ram_bytes = ", "ram_bytes"),
    ('category = "cpu"', "category"),
])
def test_missing_field_is_named(tmp_path: Path, needle: str, field: str) -> None:
    text = "\n".join(line for line in device_toml().splitlines() if not line.startswith(needle))
    msg = _err(tmp_path, text)
    assert f"'{field}'" in msg and "missing" in msg


def test_number_without_source(tmp_path: Path) -> None:
    text = device_toml().replace(f"peak_flops = {{value = 1000000000.0, source = {SRC}}}", "peak_flops = 1e9")
    assert "'units.cpu.peak_flops'" in _err(tmp_path, text)


def test_bad_source_kind(tmp_path: Path) -> None:
    text = device_toml().replace('kind = "assumption"', 'kind = "rumour"', 1)
    msg = _err(tmp_path, text)
    assert "ram_bytes.source.kind" in msg and "rumour" in msg


def test_named_source_must_exist(tmp_path: Path) -> None:
    text = device_toml().replace(f"idle_power_w = {{value = 1.0, source = {SRC}}}",
                                 'idle_power_w = {value = 1.0, source = "ds"}')
    assert "'units.cpu.idle_power_w.source'" in _err(tmp_path, text)


@pytest.mark.parametrize("old,new,field", [
    ("sparse_efficiency = {value = 0.5", "sparse_efficiency = {value = 1.5", "units.cpu.sparse_efficiency.value"),
    ("peak_flops = {value = 1000000000.0", "peak_flops = {value = 0", "units.cpu.peak_flops.value"),
    ("idle_power_w = {value = 1.0", "idle_power_w = {value = -1", "units.cpu.idle_power_w.value"),
    ("gemm = {value = 0.5", 'gemm = {value = "fast"', "units.cpu.efficiency.gemm.value"),
    ('energy_mode = "active_power"', 'energy_mode = "magic"', "energy_mode"),
    ("[units.cpu.efficiency]", "[units.cpu.efficiency]\nconvolution = {value = 0.1, source = \"x\"}",
     "units.cpu.efficiency.convolution"),
    ('display_name = "toy device"', 'display_name = "toy device"\ncolour = "red"', "colour"),
])
def test_bad_values_are_named(tmp_path: Path, old: str, new: str, field: str) -> None:
    text = device_toml()
    assert old in text
    assert f"'{field}'" in _err(tmp_path, text.replace(old, new, 1))


def test_per_op_mode_needs_its_fields(tmp_path: Path) -> None:
    text = device_toml(energy_mode="per_op").replace("energy_per_byte_j", "# energy_per_byte_j")
    msg = _err(tmp_path, text)
    assert "units.cpu.energy_per_byte_j" in msg and "per_op" in msg


def test_unknown_mode_unit_and_default(tmp_path: Path) -> None:
    base = device_toml()
    msg = _err(tmp_path, base.replace("schema = 1", 'schema = 1\ndefault_mode = "10W"', 1))
    assert "'default_mode'" in msg
    text = base + f'\n[modes.10W.units.gpu]\npeak_flops = {{value = 1.0, source = {SRC}}}\n'
    assert "'modes.10W.units.gpu'" in _err(tmp_path, text.replace("schema = 1", 'schema = 1\ndefault_mode = "10W"'))


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    msg = _err(tmp_path, "name = [unclosed")
    assert "malformed TOML" in msg
    with pytest.raises(BadInputError, match="no such device file"):
        load_device_file(tmp_path / "absent.toml")


def test_other_schema_version(tmp_path: Path) -> None:
    assert "'schema'" in _err(tmp_path, device_toml().replace("schema = 1", "schema = 3"))


def test_network_validation() -> None:
    net = parse_network(network_dict())
    assert net.value("tail_time_s") == 5.0
    d = network_dict()
    del d["tail_power_w"]
    with pytest.raises(BadInputError, match="'tail_power_w' is missing"):
        parse_network(d)
    with pytest.raises(BadInputError, match="'uplink_bytes_per_s.value'"):
        parse_network(network_dict(uplink_bytes_per_s=0.0))
