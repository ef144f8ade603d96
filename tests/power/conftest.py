"""Fixtures: fake powercap sysfs trees (nested zones, name files, symlinks) and a fake NVML module."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pynvml
import pytest

from zerofl_profiler.power.base import clear_status_cache


@pytest.fixture(autouse=True)
def _fresh_status_cache():
    """Availability is cached per process; every test starts clean."""
    clear_status_cache()
    yield
    clear_status_cache()


class FakePowercap:
    """A powercap tree laid out like the kernel's: zones under devices/, symlinks under class/."""

    def __init__(self, base: Path, ctype: str = "intel-rapl") -> None:
        self.base = base
        self.ctype = ctype
        self.devices = base / "devices" / "virtual" / "powercap" / ctype
        self.root = base / "class" / "powercap"
        self.devices.mkdir(parents=True)
        self.root.mkdir(parents=True)
        (self.devices / "enabled").write_text("1\n")
        os.symlink(self.devices, self.root / ctype)
        self.paths: dict[str, Path] = {}

    def zone(self, zid: str, name: str, energy_uj: int | None = 0, max_range_uj: int | None = 262143328850,
             ctype: str | None = None) -> Path:
        """Add zone <ctype>:<zid> ('0' top level, '0:1' nested) with its name file and root symlink."""
        ctype = ctype or self.ctype
        parts = zid.split(":")
        devdir = self.base / "devices" / "virtual" / "powercap" / ctype
        devdir.mkdir(parents=True, exist_ok=True)
        d = devdir / f"{ctype}:{parts[0]}"
        if len(parts) == 2:
            d = d / f"{ctype}:{zid}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "name").write_text(name + "\n")
        (d / "enabled").write_text("1\n")
        if energy_uj is not None:
            (d / "energy_uj").write_text(f"{energy_uj}\n")
        if max_range_uj is not None:
            (d / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
        link = self.root / d.name
        if not link.exists():
            os.symlink(d, link)
        self.paths[f"{ctype}:{zid}"] = d
        return d

    def set(self, zid: str, energy_uj: int, ctype: str | None = None) -> None:
        """Write a new counter value in one fixed-width write, as sysfs updates it: a reader sees the old
        value or the new one, never the empty file a truncate-then-write would show the sampler."""
        fd = os.open(self.paths[f"{ctype or self.ctype}:{zid}"] / "energy_uj", os.O_WRONLY)
        try:
            os.pwrite(fd, f"{energy_uj}\n".ljust(32).encode(), 0)
        finally:
            os.close(fd)


@pytest.fixture
def make_powercap(tmp_path, monkeypatch):
    """Build an empty fake tree with a given control type and set it as $ZEROFL_POWERCAP_ROOT."""

    def make(ctype: str = "intel-rapl") -> FakePowercap:
        pc = FakePowercap(tmp_path / ctype, ctype)
        monkeypatch.setenv("ZEROFL_POWERCAP_ROOT", str(pc.root))
        return pc

    return make


@pytest.fixture
def powercap(make_powercap) -> FakePowercap:
    """An empty intel-rapl fake tree, already set as $ZEROFL_POWERCAP_ROOT."""
    return make_powercap()


@pytest.fixture
def intel_tree(powercap) -> FakePowercap:
    """Two sockets, each package with core/uncore/dram, plus a top-level psys."""
    for s in (0, 1):
        powercap.zone(f"{s}", f"package-{s}", 1000)
        powercap.zone(f"{s}:0", "core", 500)
        powercap.zone(f"{s}:1", "uncore", 100)
        powercap.zone(f"{s}:2", "dram", 200)
    powercap.zone("2", "psys", 5000)
    return powercap


NVML_ERR = pynvml.NVMLError


def nvml_error(code: int) -> pynvml.NVMLError:
    """The real pynvml exception for an NVML return code."""
    return pynvml.NVMLError(code)


class FakeGpu:
    """State of one fake GPU: an energy counter (mJ) and a power reading (mW)."""

    def __init__(self, uuid: str, energy_mj: int = 1_000_000, power_mw: int = 100_000, counter: bool = True):
        self.uuid = uuid
        self.energy_mj = energy_mj
        self.power_mw = power_mw
        self.counter = counter


@pytest.fixture
def fake_nvml():
    """A create_autospec(pynvml) whose device calls read FakeGpu objects (handle = the FakeGpu)."""
    nv = mock.create_autospec(pynvml, instance=False)
    nv.NVMLError = pynvml.NVMLError
    nv.NVML_ERROR_NOT_SUPPORTED = pynvml.NVML_ERROR_NOT_SUPPORTED
    gpus: list[FakeGpu] = [FakeGpu("GPU-aaaa1111-0000"), FakeGpu("GPU-bbbb2222-0000")]
    migs: dict[str, FakeGpu] = {}

    def energy(h):
        if not h.counter:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return h.energy_mj

    def by_uuid(u):
        if u in migs:
            return ("mig", migs[u])
        for g in gpus:
            if g.uuid == u:
                return g
        raise nvml_error(pynvml.NVML_ERROR_NOT_FOUND)

    nv.nvmlInit.return_value = None
    nv.nvmlShutdown.return_value = None
    nv.nvmlDeviceGetCount.side_effect = lambda: len(gpus)
    nv.nvmlDeviceGetHandleByIndex.side_effect = lambda i: gpus[i]
    nv.nvmlDeviceGetUUID.side_effect = lambda h: h.uuid
    nv.nvmlDeviceGetHandleByUUID.side_effect = by_uuid
    nv.nvmlDeviceGetDeviceHandleFromMigDeviceHandle.side_effect = lambda m: m[1]
    nv.nvmlDeviceGetTotalEnergyConsumption.side_effect = energy
    nv.nvmlDeviceGetPowerUsage.side_effect = lambda h: h.power_mw
    nv.nvmlDeviceGetEnforcedPowerLimit.side_effect = lambda h: 300_000
    nv.gpus = gpus
    nv.migs = migs
    return nv
