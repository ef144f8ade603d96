"""RAPL energy counters through the Linux powercap sysfs (Intel, and AMD Zen through the same driver).

Layout the kernel exposes (``/sys/class/powercap`` holds symlinks to every zone, nested ones too)::

    intel-rapl:0        name=package-0   energy_uj  max_energy_range_uj
    intel-rapl:0:0      name=core        (inside package-0)
    intel-rapl:0:1      name=uncore      (inside package-0)
    intel-rapl:0:2      name=dram        (NOT inside package-0)
    intel-rapl:1        name=psys        (whole platform: package + dram + more)

AMD Zen processors are served by the same ``intel_rapl`` powercap driver (zones ``package-N`` and
``core``); zones named ``amd-rapl:N`` are read the same way. Other powercap control types
(``dtpm``, ...) carry no RAPL counters and are ignored.
``intel-rapl-mmio`` zones repeat the MSR package zone and are skipped when both exist.

Counters are in microjoules and wrap at ``max_energy_range_uj``; the meter's sampler calls
:meth:`RaplBackend.poll` often enough that each wrap is seen (a gap long enough to hide a wrap at
:data:`POWER_BOUND_W` is flagged). The root is ``$ZEROFL_POWERCAP_ROOT`` (default
``/sys/class/powercap``) so tests run against fake trees.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import HardwareError
from ..units import UJ_PER_J
from .base import Backend, BackendStatus, Reading, now_s, register_backend

ROOT_ENV = "ZEROFL_POWERCAP_ROOT"
DEFAULT_ROOT = "/sys/class/powercap"
#: Powercap control types that carry RAPL energy counters. AMD parts register as ``intel-rapl``
#: too; ``amd-rapl`` is accepted defensively, as several public RAPL readers do.
RAPL_CTYPES = ("intel-rapl", "intel-rapl-mmio", "amd-rapl")
#: A zone directory name: <control type>:<socket>[:<sub-zone>].
ZONE_RE = re.compile(r"^(?P<ctype>" + "|".join(re.escape(c) for c in RAPL_CTYPES)
                     + r"):(?P<top>\d+)(?::(?P<sub>\d+))?$")
#: Upper bound on one domain's power, used only to decide whether a sampling gap could hide a wrap.
#: Assumption (no citation): above the package power of any current server socket.
POWER_BOUND_W = 1000.0


def powercap_root() -> Path:
    """Where the powercap tree is read from (env override for tests)."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def permission_fix(path: Path) -> str:
    """The message for an unreadable counter: why it happens and how to fix it."""
    return (f"cannot read {path}: permission denied. Since the 2020 PLATYPUS fix (CVE-2020-8694) RAPL "
            f"energy_uj is readable by root only. Fix: `sudo chmod a+r {path.parent.parent}/*/energy_uj "
            f"{path}` (until reboot) or a udev rule, e.g. /etc/udev/rules.d/99-rapl.rules with "
            f'SUBSYSTEM=="powercap", ACTION=="add", RUN+="/bin/chmod a+r /sys%p/energy_uj"; '
            f"or pick another backend with --backend/--energy")


@dataclass(frozen=True)
class RaplZone:
    """One readable RAPL counter: its domain key, file, wrap range and whether it nests in another."""

    key: str
    name: str
    path: Path
    max_range_uj: int
    parent: str | None
    ctype: str


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except PermissionError:
        raise HardwareError(permission_fix(path)) from None
    except OSError as exc:
        raise HardwareError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_int(path: Path) -> int:
    text = _read_text(path)
    try:
        return int(text)
    except ValueError:
        raise HardwareError(f"{path} does not hold an integer: {text[:40]!r}") from None


def _zone_dirs(root: Path) -> list[Path]:
    """Every zone directory under root: the symlinks at the top and nested sub-directories."""
    found: dict[str, Path] = {}
    if not root.is_dir():
        return []
    stack = [p for p in root.iterdir()]
    while stack:
        p = stack.pop()
        m = ZONE_RE.match(p.name)
        if not m:
            # control-type directories (``intel-rapl``) hold zones; look inside them too
            if p.is_dir() and not p.name.startswith(".") and ":" not in p.name and p.parent == root:
                stack.extend(c for c in p.iterdir() if ZONE_RE.match(c.name))
            continue
        if not p.is_dir():
            continue
        real = os.path.realpath(p)
        if real in found:
            continue
        found[real] = p
        stack.extend(c for c in p.iterdir() if ZONE_RE.match(c.name))
    return sorted(found.values(), key=lambda q: _sort_key(q.name))


def _sort_key(name: str) -> tuple:
    m = ZONE_RE.match(name)
    assert m
    return (m["ctype"], int(m["top"]), -1 if m["sub"] is None else int(m["sub"]))


def discover_zones(root: Path | None = None) -> tuple[list[RaplZone], dict[str, str]]:
    """Readable zones under root, plus {zone: reason} for each zone that cannot be used."""
    root = root or powercap_root()
    skipped: dict[str, str] = {}
    zones: list[RaplZone] = []
    dirs = _zone_dirs(root)
    names = {d.name: (_read_text(d / "name") if (d / "name").exists() else d.name) for d in dirs}
    plain_tops = {names[d.name] for d in dirs
                  if ZONE_RE.match(d.name)["sub"] is None and not ZONE_RE.match(d.name)["ctype"].endswith("-mmio")}
    for d in dirs:
        m = ZONE_RE.match(d.name)
        assert m
        name = names[d.name]
        parent = None
        if m["sub"] is not None:
            parent = names.get(f"{m['ctype']}:{m['top']}") or f"{m['ctype']}:{m['top']}"
        elif m["ctype"].endswith("-mmio") and name in plain_tops:
            skipped[d.name] = f"{name} repeats the MSR zone of the same name (mmio interface)"
            continue
        key = f"{parent}/{name}" if parent else name
        energy, rng = d / "energy_uj", d / "max_energy_range_uj"
        if not energy.exists():
            skipped[key] = f"{d.name} has no energy_uj (domain not supported)"
            continue
        if not rng.exists():
            skipped[key] = f"{d.name} has no max_energy_range_uj (cannot unfold wraps)"
            continue
        if any(z.key == key for z in zones):
            key = f"{m['ctype']}:{key}"
        max_range = _read_int(rng)
        if max_range <= 0:
            skipped[key] = f"{d.name} has max_energy_range_uj {max_range} (cannot unfold wraps)"
            continue
        zones.append(RaplZone(key, name, energy, max_range, parent, m["ctype"]))
    return zones, skipped


def probe() -> BackendStatus:
    """Available when at least one zone exists and every zone's counter is readable."""
    root = powercap_root()
    if not root.is_dir():
        return BackendStatus("rapl", False, f"no powercap sysfs at {root} (not Linux, or no RAPL driver)")
    try:
        zones, skipped = discover_zones(root)
        if not zones:
            why = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "no RAPL zones"
            return BackendStatus("rapl", False, f"no readable RAPL zone under {root} ({why})")
        for z in zones:
            _read_int(z.path)
    except HardwareError as exc:
        return BackendStatus("rapl", False, str(exc))
    doms = ", ".join(z.key for z in zones)
    return BackendStatus("rapl", True, f"{len(zones)} zone(s) under {root}: {doms}")


class RaplBackend(Backend):
    """Cumulative RAPL energy per domain with every wrap unfolded."""

    name = "rapl"
    kind = "measured"
    needs_sampling = True
    method = "counter"

    def __init__(self, root: str | Path | None = None) -> None:
        super().__init__()
        self.root = Path(root) if root is not None else powercap_root()
        self.zones: list[RaplZone] = []
        self.skipped: dict[str, str] = {}
        self._last: dict[str, int] = {}
        self._acc_uj: dict[str, int] = {}
        self._last_t = 0.0
        self.wraps: dict[str, int] = {}
        self.gaps = 0
        self._fds: dict[str, int] = {}

    def start(self) -> None:
        """Find the zones and take the zero reading; an unreadable counter is a HardwareError."""
        self.zones, self.skipped = discover_zones(self.root)
        if not self.zones:
            raise HardwareError(f"no readable RAPL zone under {self.root}")
        for z in self.zones:  # kept open: a pread per poll is ~10x cheaper than open/read/close
            try:
                self._fds[z.key] = os.open(z.path, os.O_RDONLY)
            except PermissionError:
                self.close()
                raise HardwareError(permission_fix(z.path)) from None
            except OSError as exc:
                self.close()
                raise HardwareError(f"cannot open {z.path}: {exc.strerror or exc}") from None
        with self._lock:
            self._last = {z.key: self._raw(z) for z in self.zones}
            self._acc_uj = {z.key: 0 for z in self.zones}
            self.wraps = {z.key: 0 for z in self.zones}
            self._last_t = now_s()

    def _poll_locked(self) -> float:
        t = now_s()
        gap = t - self._last_t
        gapped = False
        for z in self.zones:
            raw = self._raw(z)
            d = raw - self._last[z.key]
            if d < 0:
                d += z.max_range_uj
                self.wraps[z.key] += 1
            if gap * POWER_BOUND_W * UJ_PER_J >= z.max_range_uj:
                gapped = True
            self._acc_uj[z.key] += d
            self._last[z.key] = raw
        self._last_t = t
        self.gaps += gapped
        return t

    def _raw(self, z: RaplZone) -> int:
        """One counter value; garbage or a value outside [0, max_energy_range_uj] is a HardwareError."""
        try:
            data = os.pread(self._fds[z.key], 32, 0)
            value = int(data)
        except PermissionError:
            raise HardwareError(permission_fix(z.path)) from None
        except OSError as exc:
            raise HardwareError(f"cannot read {z.path}: {exc.strerror or exc}") from None
        except ValueError:
            raise HardwareError(f"{z.path} does not hold an integer: {data[:40]!r}") from None
        if not 0 <= value <= z.max_range_uj:
            raise HardwareError(f"{z.path} holds {value}, outside [0, max_energy_range_uj={z.max_range_uj}]")
        return value

    def _check_present(self) -> None:
        """A zone whose file was removed (driver unloaded, hot-unplug) is a failure, never 0 J."""
        for z in self.zones:
            try:
                gone = os.fstat(self._fds[z.key]).st_nlink == 0 or not z.path.exists()
            except (OSError, KeyError):
                gone = True
            if gone:
                raise HardwareError(f"RAPL zone {z.key} ({z.path}) disappeared during the measurement")

    def close(self) -> None:
        """Close the counter files."""
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()

    def poll(self) -> None:
        """Read every counter and unfold a wrap since the last poll."""
        with self._lock:
            self._poll_locked()

    def read(self) -> Reading:
        """Fresh cumulative joules per domain (every zone still present)."""
        with self._lock:
            self._check_present()
            t = self._poll_locked()
            meta = {"gaps": float(self.gaps), "wraps": float(sum(self.wraps.values()))}
            return Reading(t, {k: v / UJ_PER_J for k, v in self._acc_uj.items()}, meta=meta)

    def window_flags(self, start: Reading, end: Reading, domains_j: Mapping[str, float]) -> tuple[str, ...]:
        """Flag a window in which two polls were far enough apart to hide a whole wrap."""
        if end.meta.get("gaps", 0) > start.meta.get("gaps", 0):
            return ("rapl-sampling-gap-may-hide-a-wrap",)
        return ()

    def total_j(self, domains_j: Mapping[str, float]) -> float | None:
        """Packages plus DRAM (DRAM is outside the package); psys alone when there is no package."""
        by_key = {z.key: z for z in self.zones}
        pkg = [k for k in domains_j if by_key[k].parent is None and by_key[k].name.startswith("package")]
        dram = [k for k in domains_j if by_key[k].name == "dram"]
        if pkg:
            return float(sum(domains_j[k] for k in pkg + dram))
        psys = [k for k in domains_j if by_key[k].name == "psys"]
        if psys:
            return float(sum(domains_j[k] for k in psys))
        tops = [k for k in domains_j if by_key[k].parent is None]
        return float(sum(domains_j[k] for k in tops)) if tops else None


@register_backend("rapl", probe=probe, order=20, doc="CPU package/core/DRAM counters (Linux powercap)")
def make_rapl(**_: object) -> RaplBackend:
    """Factory for the registry."""
    return RaplBackend()
