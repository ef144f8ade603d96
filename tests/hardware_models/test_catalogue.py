"""The shipped catalogue: complete, every number sourced, the name grammar, host resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from _devfiles import device_toml, write_device
from zerofl_profiler.errors import BadInputError, UnknownDeviceError
from zerofl_profiler.hardware_models import catalogue as cat
from zerofl_profiler.hardware_models.spec import OP_CLASSES, SOURCE_KINDS


def test_catalogue_has_the_required_families() -> None:
    specs = cat.load_catalogue()
    phones = [s for s in specs.values() if s.category == "phone"]
    jetsons = [s for s in specs.values() if s.category == "jetson"]
    gpus = {s.name for s in specs.values() if s.category == "gpu"}
    assert len(phones) >= 3 and all({"cpu", "gpu"} <= set(s.units) for s in phones)
    assert {"jetson-nano", "jetson-tx2", "jetson-xavier-nx", "jetson-agx-orin"} <= {s.name for s in jetsons}
    assert all(len(s.modes) >= 2 for s in jetsons)
    assert {"t4", "v100", "a100", "h100", "a40", "rtx6000", "p100"} <= gpus
    assert "host" in specs
    assert set(cat.network_names()) >= {"wifi", "lte", "5g"}


def test_every_number_has_a_source() -> None:
    n = 0
    for spec in cat.load_catalogue().values():
        for path, q in spec.quantities().items():
            n += 1
            assert q.source.kind in SOURCE_KINDS, (spec.name, path)
            assert q.source.ref.strip() and q.source.quote.strip(), (spec.name, path)
        for u in spec.units.values():
            assert {"gemm", "elementwise"} <= set(u.efficiency)
            assert set(u.efficiency) <= set(OP_CLASSES)
    for net in cat.load_networks().values():
        for path, q in net.quantities().items():
            n += 1
            assert q.source.kind in SOURCE_KINDS and q.source.ref and q.source.quote, (net.name, path)
    assert n > 150


def test_datasheet_peaks_match_their_quotes() -> None:
    """The datacenter GPU peaks are the datasheet figures, not edited numbers."""
    expect = {"t4": (8.1e12, "8.1"), "v100": (15.7e12, "15.7"), "a100": (19.5e12, "19.5"), "h100": (67e12, "67"),
              "a40": (37.4e12, "37.4"), "rtx6000": (16.31e12, "16.31"), "p100": (9.3e12, "9.3")}
    for name, (peak, text) in expect.items():
        q = cat.get_device(name).units["gpu"].peak_flops
        assert q.value == peak and q.source.kind == "datasheet" and text in q.source.quote


@pytest.mark.parametrize("name,expected", [
    ("h100", ("h100", None, None)),
    ("snapdragon-865-gpu", ("snapdragon-865", "gpu", None)),
    ("snapdragon-865-cpu", ("snapdragon-865", "cpu", None)),
    ("jetson-agx-orin@30W", ("jetson-agx-orin", None, "30W")),
    ("jetson-nano-gpu@5W", ("jetson-nano", "gpu", "5W")),
    ("host", ("host", None, None)),
])
def test_name_grammar(name: str, expected: tuple) -> None:
    assert cat.parse_name(name) == expected


def test_power_mode_changes_the_numbers() -> None:
    full = cat.resolve_device("jetson-agx-orin")
    low = cat.resolve_device("jetson-agx-orin@15W")
    assert full.name == "jetson-agx-orin@MAXN" and low.name == "jetson-agx-orin@15W"
    assert low.peak_flops < full.peak_flops and low.active_power_w == 15.0
    assert low.mem_bandwidth_bytes_per_s == full.mem_bandwidth_bytes_per_s  # not overridden


def test_units_are_separate_devices() -> None:
    cpu, gpu = cat.resolve_device("snapdragon-865-cpu"), cat.resolve_device("snapdragon-865-gpu")
    assert cpu.peak_flops != gpu.peak_flops and cpu.unit == "cpu" and gpu.unit == "gpu"


@pytest.mark.parametrize("bad", ["nope", "h100-cpu", "snapdragon-865-npu", "jetson-nano@7W", "t4@"])
def test_unknown_names_list_the_known_ones(bad: str) -> None:
    with pytest.raises(BadInputError) as exc:
        cat.resolve_device(bad)
    msg = str(exc.value)
    if isinstance(exc.value, UnknownDeviceError) and "@" not in bad:
        assert "known:" in msg and "jetson-agx-orin@30W" in msg and "snapdragon-865-gpu" in msg
    assert "\n" not in msg


def test_host_prefers_env_then_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cat.HOST_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    shipped = cat.resolve_device("host")
    assert shipped.peak_flops == 160e9  # the conservative default
    user = tmp_path / "cfg" / "zerofl-profiler" / "host.toml"
    user.parent.mkdir(parents=True)
    user.write_text(device_toml(name="my-box", peak=2e11), encoding="utf-8")
    assert cat.resolve_device("host").peak_flops == 2e11
    assert cat.resolve_device("host").name == "host"
    env = write_device(tmp_path, filename="env.toml", peak=3e11)
    monkeypatch.setenv(cat.HOST_ENV, str(env))
    assert cat.resolve_device("host").peak_flops == 3e11
    assert cat.host_device_source() == str(env)
