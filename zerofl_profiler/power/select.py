"""Choosing backends: `auto` precedence, explicit names, and the reason every other one was skipped.

``auto`` starts every available hardware backend marked for auto-selection (nvml, then rapl:
GPU and CPU together); if none starts, it falls back to the estimate backend, whose figures go
to ``Window.estimate`` only. codecarbon and replay are used only when named.
"""

from __future__ import annotations

from typing import Any

from ..errors import HardwareError
from . import NullMeter
from .base import BACKENDS, Backend, BackendStatus, _load_builtin_backends, backend_entry, backend_status
from .meter import DEFAULT_INTERVAL_S, EnergyMeter, check_attribution, check_interval

#: Names accepted by `--backend`/`--energy` besides the registered backends.
SPECIAL = ("auto", "none")


def backend_names() -> list[str]:
    """Registered backends in precedence order."""
    _load_builtin_backends()
    return [e.name for e in sorted(BACKENDS.values(), key=lambda e: (e.order, e.name))]


def available_backends(*, refresh: bool = False) -> list[BackendStatus]:
    """Every registered backend with whether it can run here and why (cached per process)."""
    return [backend_status(n, refresh=refresh) for n in backend_names()]


def _build(name: str, opts: dict[str, Any]) -> Backend:
    return backend_entry(name).factory(**opts)


def make_meter(backend: str = "auto", *, interval_s: float = DEFAULT_INTERVAL_S, host_device: str | None = None,
               country_iso: str | None = None, output_dir: str | None = None, estimate: bool | None = None,
               attribution: str = "exclusive") -> EnergyMeter | NullMeter:
    """The one factory: a started meter for ``backend`` (auto, none, or a registered name).

    ``estimate``: also run the estimate backend (default: only when nothing is measured).
    An explicitly named backend that cannot run, or that fails in a window, is a HardwareError with the
    reason; under ``auto`` a failure is recorded in the window's ``skipped`` and carries no number.
    """
    name = (backend or "auto").strip().lower()
    check_interval(interval_s)
    check_attribution(attribution)
    if name == "none":
        return NullMeter("energy measurement off (backend none)")
    opts: dict[str, Any] = {"host_device": host_device, "country_iso": country_iso, "output_dir": output_dir,
                            "interval_s": interval_s}
    skipped: dict[str, str] = {}
    chosen: list[Backend] = []
    if name == "auto":
        for n in backend_names():
            entry = backend_entry(n)
            if not entry.auto:
                continue
            st = backend_status(n)
            if not st.available:
                skipped[n] = st.reason
                continue
            b = _build(n, opts)
            try:
                b.start()
            except HardwareError as exc:
                b.close()
                skipped[n] = str(exc)
                continue
            chosen.append(b)
        for n in backend_names():
            if not backend_entry(n).auto and n != "estimate":
                skipped.setdefault(n, "not used by auto; select it by name")
        want_estimate = (not chosen) if estimate is None else estimate
    else:
        entry = backend_entry(name)
        st = backend_status(name)
        if not st.available:
            raise HardwareError(f"energy backend {name} is not available: {st.reason}")
        b = _build(name, opts)
        try:
            b.start()
        except BaseException:
            b.close()
            raise
        chosen.append(b)
        want_estimate = bool(estimate) and entry.kind != "estimate"
        for n in backend_names():
            if n != name and not (n == "estimate" and want_estimate):
                skipped[n] = f"not selected (backend {name})"
    if want_estimate:
        est = _build("estimate", opts)
        est.start()
        chosen.append(est)
    elif name != "estimate":
        skipped.setdefault("estimate", "not needed: a measured backend is in use" if chosen else "disabled")
    try:
        return EnergyMeter(chosen, interval_s=interval_s, skipped=skipped, attribution=attribution, started=True,
                           strict=name != "auto")
    except BaseException:
        for b in chosen:
            b.close()
        raise
