"""codecarbon: energy and emissions (gCO2eq) from its offline tracker, one tracker per run.

Each window is a codecarbon task (``start_task``/``stop_task``); codecarbon allows one active
task at a time, so a window opened while another is active is measured from codecarbon's running
totals instead and flagged. No network (``OfflineEmissionsTracker`` with a country ISO code), its
logging is kept to errors, and nothing is written unless ``output_dir`` is given.

codecarbon reads the real ``/sys/class/powercap`` (not ``$ZEROFL_POWERCAP_ROOT``). Its CPU mode
decides what the figures are: ``intel_rapl`` is a measurement (CPU and GPU go to the measured
block, its RAM model to the estimate block); any other mode (``cpu_load``, ``constant`` = TDP
guesses) is an estimate, and the whole result goes to the estimate block.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..errors import BadInputError, HardwareError, MissingExtraError
from .base import Backend, BackendStatus, Delta, Reading, now_s, register_backend

J_PER_KWH = 3.6e6
G_PER_KG = 1000.0
#: Default electricity-mix country when none is given (ISO 3166-1 alpha-3; codecarbon's offline data).
DEFAULT_COUNTRY = "USA"
COUNTRY_ENV = "ZEROFL_COUNTRY_ISO"
MEASURED_CPU_MODES = ("intel_rapl",)


class _QuietFilter(logging.Filter):
    """Keep codecarbon's logger to errors while our tracker lives."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


def import_codecarbon() -> Any:
    """The codecarbon module, or a MissingExtraError naming the package."""
    try:
        import codecarbon
    except ImportError:
        raise MissingExtraError("the codecarbon backend needs the emissions extra: pip install 'zerofl-profiler[emissions]'") from None
    return codecarbon


def probe() -> BackendStatus:
    """Available when codecarbon imports; what mode it will use is only known once it starts."""
    try:
        cc = import_codecarbon()
    except MissingExtraError as exc:
        return BackendStatus("codecarbon", False, str(exc))
    rapl = os.access("/sys/class/powercap/intel-rapl:0/energy_uj", os.R_OK)
    how = ("RAPL readable: CPU measured" if rapl else
           "no readable RAPL at /sys/class/powercap: CPU from a TDP/load model (counted as an estimate)")
    return BackendStatus("codecarbon", True, f"codecarbon {cc.__version__} offline; {how}")


def _kwh_j(v: Any) -> float:
    return float(v or 0.0) * J_PER_KWH


class CodecarbonBackend(Backend):
    """One offline tracker; a task per window; emissions alongside energy."""

    name = "codecarbon"
    kind = "measured"

    def __init__(self, country_iso: str | None = None, *, output_dir: str | None = None,
                 measure_power_secs: float = 1.0) -> None:
        super().__init__()
        self.country = (country_iso or os.environ.get(COUNTRY_ENV) or DEFAULT_COUNTRY).upper()
        if len(self.country) != 3 or not self.country.isalpha():
            raise BadInputError(f"country must be an ISO 3166-1 alpha-3 code like FRA or USA, got {self.country!r}")
        self.output_dir = output_dir
        self.measure_power_secs = float(measure_power_secs)
        self.tracker: Any = None
        self.cpu_mode = "unknown"
        self._active: str | None = None
        self._n = 0
        self._filter = _QuietFilter()
        self.note = ""
        self.has_gpu = True

    @property
    def method(self) -> str:  # type: ignore[override]
        """``codecarbon:<cpu mode>``."""
        return f"codecarbon:{self.cpu_mode}"

    @property
    def measured(self) -> bool:
        """Whether the CPU figure is a RAPL measurement."""
        return self.cpu_mode in MEASURED_CPU_MODES

    def start(self) -> None:
        """Build the one tracker and run one empty task so its hardware (and mode) are set up now."""
        cc = import_codecarbon()
        logging.getLogger("codecarbon").addFilter(self._filter)
        kw: dict[str, Any] = dict(country_iso_code=self.country, log_level="error",
                                  measure_power_secs=self.measure_power_secs, allow_multiple_runs=True,
                                  tracking_mode="machine", project_name="zerofl-profiler")
        if self.output_dir:
            from codecarbon import OutputMethod

            kw.update(output_methods=[OutputMethod.CSV], output_dir=self.output_dir)
        else:
            kw.update(output_methods=[])
        try:
            self.tracker = cc.OfflineEmissionsTracker(**kw)
            self.tracker.start_task("zerofl-setup")
            self.tracker.stop_task("zerofl-setup")
        except Exception as exc:  # codecarbon raises many kinds; ours is one line
            raise HardwareError(f"codecarbon tracker failed to start: {exc}") from None
        modes = [getattr(h, "_mode", None) for h in getattr(self.tracker, "_hardware", [])
                 if type(h).__name__ == "CPU"]
        self.cpu_mode = next((m for m in modes if m), "unknown")
        self.has_gpu = any(type(h).__name__ == "GPU" for h in getattr(self.tracker, "_hardware", []))
        if not self.measured:
            self.note = (f"codecarbon CPU mode {self.cpu_mode!r} is a model, not a measurement "
                         "(no readable RAPL); its figures are in the estimate")

    def read(self) -> Reading:
        """codecarbon's running totals (private API; used only for windows nested in a task)."""
        tr = self.tracker
        try:
            tr._measure_power_and_energy()
            d = tr._prepare_emissions_data()
        except Exception as exc:
            raise HardwareError(f"codecarbon running totals unavailable: {exc}") from None
        return Reading(now_s(), {"cpu": _kwh_j(d.cpu_energy), "gpu": _kwh_j(d.gpu_energy),
                                 "ram": _kwh_j(d.ram_energy)}, meta={"emissions_g": float(d.emissions) * G_PER_KG})

    def begin(self, name: str) -> Any:
        """Start a codecarbon task, or snapshot the totals when a task is already running."""
        with self._lock:
            if self._active is None:
                self._n += 1
                task = f"{name}#{self._n}"
                self.tracker.start_task(task)
                self._active = task
                return ("task", task, now_s())
        return ("nested", self.read(), now_s())

    def end(self, token: Any) -> list[Delta]:
        """Stop the task (or diff the totals) and split measured from modelled parts."""
        how, ref, t0 = token
        if how == "task":
            with self._lock:
                data = self.tracker.stop_task(ref)
                self._active = None
            if data is None:
                raise HardwareError(f"codecarbon returned no data for task {ref!r}")
            dur = float(data.duration)
            parts = {"cpu": _kwh_j(data.cpu_energy), "gpu": _kwh_j(data.gpu_energy), "ram": _kwh_j(data.ram_energy)}
            emissions = float(data.emissions or 0.0) * G_PER_KG
            flags: tuple[str, ...] = ()
        else:
            stop = self.read()
            dur = stop.t_s - ref.t_s
            parts = {k: max(0.0, stop.energy_j[k] - ref.energy_j[k]) for k in stop.energy_j}
            emissions = max(0.0, stop.meta["emissions_g"] - ref.meta["emissions_g"])
            flags = ("codecarbon-nested-window:running-totals",)
        flags += (f"country:{self.country}",)
        if not self.has_gpu:
            parts.pop("gpu", None)
        if self.measured:
            meas = {k: parts[k] for k in ("cpu", "gpu") if k in parts}
            return [Delta("codecarbon", "measured", self.method, meas, sum(meas.values()), dur,
                          flags + ("emissions-include-modelled-ram",), emissions),
                    Delta("codecarbon", "estimate", "codecarbon:ram-model", {"ram": parts["ram"]},
                          parts["ram"], dur, flags)]
        return [Delta("codecarbon", "estimate", self.method, parts, sum(parts.values()), dur, flags, emissions)]

    def close(self) -> None:
        """Stop the tracker and restore codecarbon's logging."""
        if self.tracker is not None:
            try:
                self.tracker.stop()
            except Exception:
                pass
            self.tracker = None
        logging.getLogger("codecarbon").removeFilter(self._filter)


@register_backend("codecarbon", probe=probe, auto=False, order=30,
                  doc="codecarbon offline tracker: energy + gCO2eq (estimate unless RAPL)")
def make_codecarbon(*, country_iso: str | None = None, output_dir: str | None = None,
                    interval_s: float | None = None, **_: object) -> CodecarbonBackend:
    """Factory for the registry."""
    return CodecarbonBackend(country_iso, output_dir=output_dir, measure_power_secs=max(1.0, interval_s or 1.0))
