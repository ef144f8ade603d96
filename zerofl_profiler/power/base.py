"""The one backend interface, its records, and the registry every backend joins.

A backend exposes *cumulative* joules per domain since it started (``read``), so any number of
nested or overlapping windows are just pairs of readings. Backends that need a background thread
(power integration, counter-wrap tracking) set ``needs_sampling`` and get ``poll`` called by the
meter's one shared sampler. Backends that cannot be read cumulatively (codecarbon's task API)
override ``begin``/``end`` instead.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from ..errors import BadInputError, HardwareError, ZeroflError, unknown_name

#: The two kinds of figures a backend produces; they never share an EnergyBlock.
KINDS = ("measured", "estimate")


@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend can run here and, if not, why (shown by `measure --list`)."""

    name: str
    available: bool
    reason: str
    kind: str = "measured"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"name": self.name, "available": self.available, "reason": self.reason, "kind": self.kind}


@dataclass(frozen=True)
class Reading:
    """Cumulative energy per domain (J) since the backend started, at ``t_s`` (perf_counter)."""

    t_s: float
    energy_j: Mapping[str, float]
    flags: tuple[str, ...] = ()
    meta: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Delta:
    """What one backend saw during one window; ``kind`` says whether it is measured or estimated."""

    backend: str
    kind: str
    method: str
    domains_j: Mapping[str, float]
    total_j: float | None
    duration_s: float
    flags: tuple[str, ...] = ()
    emissions_g: float | None = None


class Backend(ABC):
    """A source of energy figures. Subclasses register with :func:`register_backend`."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "measured"
    needs_sampling: ClassVar[bool] = False
    method: str = "counter"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def start(self) -> None:
        """Acquire resources and take the zero reading; called once by the meter."""

    def close(self) -> None:
        """Release resources (vendor library handles, trackers)."""

    def poll(self) -> None:
        """Called by the shared sampler every interval; default: nothing to keep up to date."""

    @abstractmethod
    def read(self) -> Reading:
        """Cumulative joules per domain since start (monotonic, wraps already unfolded)."""

    def total_j(self, domains_j: Mapping[str, float]) -> float | None:
        """Sum of the domains that do not overlap (subclasses drop nested sub-domains)."""
        return float(sum(domains_j.values())) if domains_j else None

    def window_flags(self, start: Reading, end: Reading, domains_j: Mapping[str, float]) -> tuple[str, ...]:
        """Extra flags for one window (e.g. shorter than the counter's update period)."""
        return ()

    def begin(self, name: str) -> Any:
        """Mark the start of a window; the token goes back to :meth:`end`."""
        return self.read()

    def end(self, token: Any) -> list[Delta]:
        """Close a window opened with :meth:`begin` and return what it cost."""
        start: Reading = token
        stop = self.read()
        lost = sorted(set(start.energy_j) - set(stop.energy_j))
        if lost:  # a missing domain is a failure to measure it, never 0 J
            raise HardwareError(f"{self.name}: domain(s) {', '.join(lost)} disappeared during the window")
        keys = set(start.energy_j) | set(stop.energy_j)
        domains = {k: max(0.0, stop.energy_j.get(k, 0.0) - start.energy_j.get(k, 0.0)) for k in sorted(keys)}
        flags = tuple(dict.fromkeys(start.flags + stop.flags + self.window_flags(start, stop, domains)))
        return [Delta(self.name, self.kind, self.method, domains, self.total_j(domains),
                      stop.t_s - start.t_s, flags)]


Factory = Callable[..., Backend]
Probe = Callable[[], BackendStatus]


@dataclass(frozen=True)
class BackendEntry:
    """A registered backend: how to build it, how to check it, and its place in auto-selection."""

    name: str
    factory: Factory
    probe: Probe
    kind: str = "measured"
    auto: bool = True
    order: int = 100
    doc: str = ""


BACKENDS: dict[str, BackendEntry] = {}
_STATUS_CACHE: dict[str, BackendStatus] = {}


def register_backend(name: str, *, probe: Probe, kind: str = "measured", auto: bool = True,
                     order: int = 100, doc: str = "") -> Callable[[Factory], Factory]:
    """Decorator adding a backend factory to the registry; a duplicate name is a programming error."""
    if kind not in KINDS:
        raise ValueError(f"backend kind must be one of {KINDS}, got {kind!r}")

    def deco(factory: Factory) -> Factory:
        if name in BACKENDS:
            raise ValueError(f"energy backend {name!r} is already registered")
        BACKENDS[name] = BackendEntry(name, factory, probe, kind, auto, order, doc)
        return factory

    return deco


def backend_entry(name: str) -> BackendEntry:
    """The registry entry for ``name``; an unknown name is bad input listing the known ones."""
    _load_builtin_backends()
    try:
        return BACKENDS[name]
    except KeyError:
        raise BadInputError(unknown_name("energy backend", name, ["auto", "none", *sorted(BACKENDS)])) from None


def backend_status(name: str, *, refresh: bool = False) -> BackendStatus:
    """Availability of one backend, checked once per process and cached (probes can be slow)."""
    entry = backend_entry(name)
    if refresh or name not in _STATUS_CACHE:
        try:
            st = entry.probe()
        except ZeroflError as exc:
            st = BackendStatus(name, False, str(exc), entry.kind)
        _STATUS_CACHE[name] = st
    return _STATUS_CACHE[name]


def clear_status_cache() -> None:
    """Forget cached availability (tests and long-lived processes whose hardware changed)."""
    _STATUS_CACHE.clear()


def _load_builtin_backends() -> None:
    """Import the built-in backend modules so they register (cheap: vendor libraries load lazily)."""
    from . import codecarbon_backend, estimate, nvml, rapl, replay  # noqa: F401


def now_s() -> float:
    """The one clock every reading uses."""
    return time.perf_counter()
