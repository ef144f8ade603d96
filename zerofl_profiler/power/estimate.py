"""The estimate backend: CPU time x per-core power of the host device model, labelled ``estimate``.

It never measures anything; its figures go to ``Window.estimate`` / ``energy_estimate`` only.
CPU time is this process's user+system time plus that of its waited-for children (so
``measure -- CMD`` counts the command). Power comes from the host device model
(``hardware_models.get_device("host")``: active power of its default unit, spread over the logical
CPUs); if that model is unavailable, an explicit assumption is used and named in the flags.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

from .base import Backend, BackendStatus, Reading, now_s, register_backend

#: Fallback whole-CPU power when no host model is available. Assumption: the same 85 W that
#: codecarbon uses for a CPU it cannot identify (codecarbon/external/hardware.py, POWER_CONSTANT).
FALLBACK_CPU_POWER_W = 85.0


def cpu_time_s() -> float:
    """User+system CPU seconds of this process (all threads, fine-grained) and its waited-for children."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


@dataclass(frozen=True)
class HostPower:
    """Whole-CPU active power, the CPUs it is spread over, and where the number came from."""

    cpu_power_w: float
    cpus: int
    source: str

    @property
    def per_cpu_w(self) -> float:
        """Power of one busy logical CPU."""
        return self.cpu_power_w / self.cpus


def host_power(host_device: str | None = None) -> HostPower:
    """Active power from the host device model, or the labelled fallback assumption."""
    cpus = os.cpu_count() or 1
    name = host_device or "host"
    try:
        from ..hardware_models import get_device  # lazy: another part owns it

        spec = get_device(name)
        unit = spec.units[spec.default_unit]
        q = unit.active_power_w
        if q is None:
            raise LookupError(f"device {spec.name!r} unit {spec.default_unit!r} has no active_power_w")
        src = q.source
        label = f"device model {spec.name}:{spec.default_unit} active_power_w ({src.kind}: {src.ref})"
        return HostPower(float(q.value), cpus, label)
    except Exception as exc:  # any failure of the optional model: fall back, and say why
        why = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        label = (f"assumption: {FALLBACK_CPU_POWER_W:g} W whole-CPU power (codecarbon's default for an "
                 f"unknown CPU); host model unavailable: {why}")
        return HostPower(FALLBACK_CPU_POWER_W, cpus, label)


def probe() -> BackendStatus:
    """Always available; the reason says which power figure it would use."""
    hp = host_power()
    return BackendStatus("estimate", True,
                         f"CPU time x {hp.per_cpu_w:.3g} W per busy CPU ({hp.cpus} CPUs); {hp.source}",
                         kind="estimate")


class EstimateBackend(Backend):
    """Cumulative estimated joules: CPU seconds so far x power of one busy CPU."""

    name = "estimate"
    kind = "estimate"
    method = "cpu-time-x-power"

    def __init__(self, host_device: str | None = None, clock: Callable[[], float] = cpu_time_s,
                 power: HostPower | None = None) -> None:
        super().__init__()
        self.power = power or host_power(host_device)
        self._clock = clock
        self._origin = 0.0

    def start(self) -> None:
        """Zero the CPU clock."""
        self._origin = self._clock()

    def read(self) -> Reading:
        """CPU joules so far (an estimate)."""
        cpu_s = self._clock() - self._origin
        return Reading(now_s(), {"cpu": cpu_s * self.power.per_cpu_w},
                       (f"power: {self.power.per_cpu_w:.3g} W per busy CPU from {self.power.source}",),
                       meta={"cpu_s": cpu_s})


@register_backend("estimate", probe=probe, kind="estimate", auto=False, order=90,
                  doc="CPU time x host power model (an estimate, never a measurement)")
def make_estimate(*, host_device: str | None = None, **_: object) -> EstimateBackend:
    """Factory for the registry."""
    return EstimateBackend(host_device)
