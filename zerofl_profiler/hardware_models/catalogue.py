"""The shipped device and network catalogues (package data, loaded lazily) and the name grammar.

Device names follow one grammar::

    NAME    := DEVICE [ "-" UNIT ] [ "@" MODE ]
    DEVICE  := a catalogue file name, e.g. h100, jetson-agx-orin, snapdragon-865, host
    UNIT    := a compute unit of that device (SoCs: cpu, gpu); default: the file's default_unit
    MODE    := a power mode of that device (Jetson nvpmodel modes: 10W, MAXN, ...); default: default_mode

Examples: ``h100``, ``snapdragon-865-gpu``, ``snapdragon-865-cpu``, ``jetson-agx-orin@30W``,
``jetson-nano-gpu@5W``, ``host``. A path ending in ``.toml`` is read as a device file.

``host`` resolves, in order, to ``$ZEROFL_HOST_DEVICE`` (a device file path), then
``~/.config/zerofl-profiler/host.toml`` (what ``zerofl-profile calibrate`` writes), then the
shipped conservative default ``catalogue/host.toml``.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from typing import Mapping

from ..errors import BadInputError, UnknownDeviceError, unknown_name
from .devicefile import load_device_file, load_network_file, parse_device, parse_network
from .records import BreakEven, DeviceProfile, DeviceSpec, NetworkSpec

HOST_ENV = "ZEROFL_HOST_DEVICE"
HOST_NAME = "host"


def user_host_file() -> Path:
    """Where `calibrate` writes the calibrated host device by default."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "zerofl-profiler" / "host.toml"


def _package_dir(sub: str) -> Path:
    return Path(str(resources.files(__package__).joinpath(sub)))


@functools.lru_cache(maxsize=None)
def _catalogue_files() -> dict[str, Path]:
    d = _package_dir("catalogue")
    return {p.stem: p for p in sorted(d.glob("*.toml"))}


@functools.lru_cache(maxsize=None)
def _network_files() -> dict[str, Path]:
    d = _package_dir("networks")
    return {p.stem: p for p in sorted(d.glob("*.toml"))}


@functools.lru_cache(maxsize=None)
def _load_shipped(name: str) -> DeviceSpec:
    path = _catalogue_files()[name]
    spec = load_device_file(path)
    if spec.name != name:
        raise BadInputError(f"{path}: field 'name' is {spec.name!r} but the file is {name}.toml")
    return spec


def device_names() -> list[str]:
    """The catalogue's device (file) names, sorted."""
    return sorted(_catalogue_files())


def host_device_source() -> str:
    """Which file `host` resolves to right now (env var, user config, or the shipped default)."""
    env = os.environ.get(HOST_ENV)
    if env:
        return env
    user = user_host_file()
    if user.is_file():
        return str(user)
    return str(_catalogue_files()[HOST_NAME])


def host_break_even() -> BreakEven:
    """The weight density below which the host's measured CPU sparse kernel beats dense (`--sparse-kernels auto`)."""
    return BreakEven.of(get_device(HOST_NAME), "cpu")


def _load_host() -> DeviceSpec:
    src = host_device_source()
    spec = load_device_file(src) if src != str(_catalogue_files()[HOST_NAME]) else _load_shipped(HOST_NAME)
    if spec.name != HOST_NAME:  # a calibrated file may name the machine; `host` is still how it is reached
        from dataclasses import replace

        spec = replace(spec, name=HOST_NAME, display_name=f"{spec.display_name} (as host)")
    return spec


def load_catalogue() -> dict[str, DeviceSpec]:
    """Every shipped device (with `host` as currently resolved), validated; loads all files."""
    return {n: get_device(n) for n in device_names()}


def get_device(name_or_file: str) -> DeviceSpec:
    """A device by catalogue name (no unit/mode suffix) or by path to a TOML file."""
    if name_or_file.endswith(".toml") or os.sep in name_or_file:
        return load_device_file(name_or_file)
    if name_or_file == HOST_NAME:
        return _load_host()
    if name_or_file not in _catalogue_files():
        raise UnknownDeviceError(unknown_device_message(name_or_file))
    return _load_shipped(name_or_file)


def unknown_device_message(name: str) -> str:
    """One line listing the known names, so a typo is fixed without reading docs."""
    known = []
    for n in device_names():
        try:
            known.extend(get_device(n).variant_names())
        except BadInputError:
            known.append(n)
    return unknown_name("device", name, known)


def parse_name(name: str) -> tuple[str, str | None, str | None]:
    """Split NAME into (device, unit, mode) following the grammar; the device must exist."""
    text = name.strip()
    if not text:
        raise BadInputError("empty device name")
    base, _, mode = text.partition("@")
    if "@" in text and not mode:
        raise BadInputError(f"malformed device name {name!r}: nothing after '@'")
    files = _catalogue_files()
    if base in files:
        return base, None, mode or None
    # longest device prefix whose remainder is a unit name
    for cut in range(len(base) - 1, 0, -1):
        if base[cut] != "-":
            continue
        dev, unit = base[:cut], base[cut + 1:]
        if dev in files:
            spec = get_device(dev)
            if unit in spec.units:
                return dev, unit, mode or None
    raise UnknownDeviceError(unknown_device_message(name))


def resolve_device(name: str, *, runtime: str | None = None, precision: str | None = None) -> DeviceProfile:
    """A device name of the grammar (or a .toml path) as the plain numbers pricing uses."""
    if name.endswith(".toml") or os.sep in name:
        return load_device_file(name).profile(runtime=runtime, precision=precision)
    dev, unit, mode = parse_name(name)
    return get_device(dev).profile(unit, mode, runtime=runtime, precision=precision)


def resolve_device_file(path: str, *, runtime: str | None = None, precision: str | None = None
                        ) -> list[DeviceProfile]:
    """Every unit of a user device file in its default mode (a file may describe a whole SoC)."""
    spec = load_device_file(path)
    return [spec.profile(u, runtime=runtime, precision=precision) for u in spec.units]


def network_names() -> list[str]:
    """The shipped network names."""
    return sorted(_network_files())


@functools.lru_cache(maxsize=None)
def _load_network(name: str) -> NetworkSpec:
    path = _network_files()[name]
    spec = load_network_file(path)
    if spec.name != name:
        raise BadInputError(f"{path}: field 'name' is {spec.name!r} but the file is {name}.toml")
    return spec


def get_network(name_or_file: str) -> NetworkSpec:
    """A network by name (wifi, lte, 5g) or by path to a network TOML file."""
    if name_or_file.endswith(".toml"):
        return load_network_file(name_or_file)
    if name_or_file not in _network_files():
        raise BadInputError(unknown_name("network", name_or_file, network_names()))
    return _load_network(name_or_file)


def load_networks() -> Mapping[str, NetworkSpec]:
    """Every shipped network, validated."""
    return {n: get_network(n) for n in network_names()}


__all__ = ["HOST_ENV", "device_names", "get_device", "get_network", "host_break_even", "host_device_source",
           "load_catalogue", "load_networks", "network_names", "parse_device", "parse_name", "parse_network", "resolve_device",
           "resolve_device_file", "unknown_device_message", "user_host_file"]
