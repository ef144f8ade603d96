"""EnergyMeter: named windows over several backends, nested and overlapping, one shared sampler.

A window is a begin/end pair of readings per backend, so windows may nest or overlap freely.
Measured figures (nvml, rapl, codecarbon with RAPL) become ``Window.result``; estimates
(the estimate backend, codecarbon's models) become ``Window.estimate``. They are never mixed.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence

from ..errors import BadInputError, HardwareError
from ..traces.schema import ATTRIBUTIONS, EnergyBlock
from ..vocab import ENERGY_SOURCES
from . import Window
from .base import Backend, Delta
from .sampler import Sampler

DEFAULT_INTERVAL_S = 0.1


def check_attribution(value: str) -> str:
    """Only the attributions the trace schema knows."""
    if value not in ATTRIBUTIONS:
        raise BadInputError(f"attribution must be one of {ATTRIBUTIONS}, got {value!r}")
    return value


def combine(deltas: Sequence[Delta], kind: str, duration_s: float, skipped: Mapping[str, str],
            attribution: str) -> EnergyBlock | None:
    """Merge one window's deltas of one kind into an EnergyBlock (None if there are none)."""
    picked = [d for d in deltas if d.kind == kind]
    if not picked:
        return None
    multi = len({d.backend for d in picked}) > 1
    domains: dict[str, float] = {}
    for d in picked:
        for k, v in d.domains_j.items():
            domains[f"{d.backend}:{k}" if multi else k] = float(v)
    totals = [d.total_j for d in picked if d.total_j is not None]
    method = "+".join(f"{d.backend}:{d.method}" for d in picked) if multi else picked[0].method
    flags = tuple(dict.fromkeys(f for d in picked for f in d.flags))
    if multi:
        flags += ("combined:" + "+".join(d.backend for d in picked),)
    em = [d.emissions_g for d in picked if d.emissions_g is not None]
    source = picked[0].backend if kind == "measured" else "estimate"
    if source not in ENERGY_SOURCES:
        source = "none"
    return EnergyBlock(source=source, method=method, total_j=float(sum(totals)) if totals else None,
                       domains_j=domains, duration_s=duration_s, skipped=dict(skipped),
                       attribution=attribution, emissions_g=float(sum(em)) if em else None, flags=flags)


def check_interval(interval_s: float) -> float:
    """A sampling interval must be a positive number of seconds."""
    try:
        v = float(interval_s)
    except (TypeError, ValueError):
        raise BadInputError(f"sampling interval must be a number of seconds, got {interval_s!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise BadInputError(f"sampling interval must be > 0 s, got {interval_s!r}")
    return v


class OpenWindow:
    """A window that has begun; :meth:`stop` closes it (for windows that overlap without nesting)."""

    def __init__(self, meter: "EnergyMeter", name: str, attribution: str) -> None:
        self.meter = meter
        self.window = Window(name, attribution=attribution)
        self.failures: dict[str, str] = {}
        self._t0 = time.perf_counter()
        self._polls_failed = dict(meter.sampler.failures)
        self._tokens: list[tuple[Backend, Any]] = []
        for b in meter.backends:
            try:
                self._tokens.append((b, b.begin(name)))
            except HardwareError as exc:
                self.failures[b.name] = str(exc)
        self._closed = False

    def stop(self) -> Window:
        """Read every backend again and fill ``result`` and ``estimate``."""
        if self._closed:
            return self.window
        self._closed = True
        deltas: list[Delta] = []
        failures = dict(self.failures)
        m = self.meter
        for b, tok in self._tokens:
            try:
                got = b.end(tok)
            except HardwareError as exc:
                failures[b.name] = str(exc)
                continue
            if m.sampler.failures.get(b.name, 0) > self._polls_failed.get(b.name, 0):
                # a poll inside this window failed: a wrap may be lost, so the figure is not a measurement
                failures[b.name] = f"sampling failed during the window: {m.sampler.errors.get(b.name, '?')}"
                continue
            deltas.extend(got)
        dur = time.perf_counter() - self._t0
        if failures and m.strict:
            name, why = next(iter(failures.items()))
            raise HardwareError(f"energy backend {name} failed in window {self.window.name}: {why}")
        skipped = {**m.skipped, **m.sampler_errors(), **failures}
        measured_backends = {d.backend for d in deltas if d.kind == "measured"}
        for b in m.backends:
            note = getattr(b, "note", "")
            if note and b.name not in measured_backends:
                skipped.setdefault(b.name, note)
        win = self.window
        check_attribution(win.attribution)
        win.result = (combine(deltas, "measured", dur, skipped, win.attribution)
                      or EnergyBlock(source="none", method="none", duration_s=dur, skipped=skipped,
                                     attribution=win.attribution))
        win.estimate = combine(deltas, "estimate", dur, {}, win.attribution)
        return win


class EnergyMeter:
    """Named measurement windows over started backends, sharing one sampling thread."""

    def __init__(self, backends: Sequence[Backend], *, interval_s: float = DEFAULT_INTERVAL_S,
                 skipped: Mapping[str, str] | None = None, attribution: str = "exclusive",
                 started: bool = False, strict: bool = False) -> None:
        interval_s = check_interval(interval_s)
        #: an explicitly requested backend: a failure in a window is an error, not a skipped source
        self.strict = bool(strict)
        self.attribution = check_attribution(attribution)
        self.backends = list(backends)
        self.skipped = dict(skipped or {})
        self.interval_s = float(interval_s)
        if not started:
            for i, b in enumerate(self.backends):
                try:
                    b.start()
                except BaseException:
                    for done in self.backends[:i + 1]:
                        done.close()
                    raise
        self.sampler = Sampler([b for b in self.backends if b.needs_sampling], self.interval_s)
        self.sampler.start()

    @property
    def sources(self) -> list[str]:
        """Names of the backends in use, in precedence order."""
        return [b.name for b in self.backends]

    def sampler_errors(self) -> dict[str, str]:
        """Backends whose background polls failed (reported in every later window)."""
        return {k: f"sampling failed: {v}" for k, v in self.sampler.errors.items()}

    def start_window(self, name: str, attribution: str | None = None) -> OpenWindow:
        """Begin a window that the caller stops explicitly (overlapping windows)."""
        return OpenWindow(self, name, check_attribution(attribution or self.attribution))

    @contextmanager
    def window(self, name: str, attribution: str | None = None) -> Iterator[Window]:
        """Measure the enclosed block; the caller may set ``win.attribution`` inside it."""
        ow = self.start_window(name, attribution)
        try:
            yield ow.window
        finally:
            ow.stop()

    def close(self) -> None:
        """Stop the sampler and release every backend."""
        self.sampler.stop()
        for b in self.backends:
            b.close()

    def __enter__(self) -> "EnergyMeter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
