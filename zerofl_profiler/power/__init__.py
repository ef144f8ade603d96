"""Energy measurement behind one interface (NVML, RAPL, codecarbon, estimate, none).

Contract used by the engines (kept stable while the backends grow)::

    meter = make_meter("auto")            # or NullMeter()
    with meter.window("client-3/round-1") as win:
        ...work...
    win.result    -> EnergyBlock   (measured: source nvml/rapl/codecarbon/none)
    win.estimate  -> EnergyBlock | None   (source "estimate"; never mixed into result)

Modules: ``base`` (interface, records, registry), ``rapl``, ``nvml``, ``codecarbon_backend``,
``estimate``, ``replay`` (backends), ``sampler`` (one shared thread), ``meter`` (EnergyMeter),
``select`` (``make_meter``, ``available_backends``: auto precedence and skip reasons).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, runtime_checkable

from ..traces.schema import EnergyBlock


@dataclass
class Window:
    """A named measurement window; ``result`` and ``estimate`` are set when it closes."""

    name: str
    result: EnergyBlock = field(default_factory=EnergyBlock.none)
    estimate: EnergyBlock | None = None
    attribution: str = "exclusive"  # "shared" when other work ran on the same counters (set by the caller)


@runtime_checkable
class Meter(Protocol):
    """What an engine needs from an energy meter: named windows, and a close that releases it.

    NullMeter, EnergyMeter and test doubles all satisfy it; engines type their seam with it.
    """

    def window(self, name: str, attribution: str | None = None) -> AbstractContextManager[Window]:
        """Measure the enclosed block; ``result`` (and ``estimate``) are set on exit."""
        ...

    def close(self) -> None:
        """Release backends and threads (idempotent)."""
        ...


class NullMeter:
    """Measures nothing and says so (source ``none``), so callers never test for None."""

    def __init__(self, reason: str = "no energy backend selected") -> None:
        self.reason = reason

    @contextmanager
    def window(self, name: str, attribution: str | None = None) -> Iterator[Window]:
        """Open a window that records only its duration."""
        win = Window(name, attribution=attribution or "exclusive")
        t0 = time.perf_counter()
        try:
            yield win
        finally:
            win.result = EnergyBlock(source="none", method="none", duration_s=time.perf_counter() - t0,
                                     skipped={"all": self.reason}, attribution=win.attribution)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> "NullMeter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_meter(backend: str = "auto", **kw: Any) -> Meter:
    """Build a started meter (see :func:`zerofl_profiler.power.select.make_meter`)."""
    from .select import make_meter as _make

    return _make(backend, **kw)


def available_backends(*, refresh: bool = False) -> list[Any]:
    """Each backend, available or not, and why (see :mod:`zerofl_profiler.power.select`)."""
    from .select import available_backends as _avail

    return _avail(refresh=refresh)


def __getattr__(name: str) -> Any:
    """Lazy access to EnergyMeter and BackendStatus without importing every backend on import."""
    if name == "EnergyMeter":
        from .meter import EnergyMeter

        return EnergyMeter
    if name == "BackendStatus":
        from .base import BackendStatus

        return BackendStatus
    raise AttributeError(name)
