"""Calibrate this machine: time the micro-benchmarks, fit the parameters, describe the result.

``calibrate_host`` is the only function that times anything; the fit (``fit.fit_host``) and the
device file (``device_file.host_document``) are pure and tested on injected timings.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .bench import build_all
from .cases import BenchCase
from .fit import FitResult, fit_host
from .timing import check_clock, time_interleaved

if TYPE_CHECKING:
    from .sparse_curve import SparseCurve

STEP_KINDS = ("step", "sparse_step")  # timed with autograd on, one call per sample


@dataclass(frozen=True)
class HostInfo:
    """What was calibrated and with what: recorded in the device file."""

    cpu_model: str
    torch_version: str
    threads: int
    date_utc: str
    ram_bytes: float
    unit: str = "cpu"
    accelerator: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class UnitCalibration:
    """One compute unit's timed cases, fit and measured peak."""

    unit: str
    cases: tuple[BenchCase, ...]
    fit: FitResult
    peak_flops: float
    peak_case: str
    wall_s: float
    clock: str = "wall"
    sparse_curve: "SparseCurve | None" = None  # the unit's real sparse kernel against dense (CSR on the CPU)

    @property
    def noise_floor(self) -> float:
        """Median spread of the repeated measurements."""
        return float(np.median([c.spread for c in self.cases])) if self.cases else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (`calibrate --json`)."""
        p = self.fit.params
        return {"unit": self.unit, "peak_flops": self.peak_flops, "peak_case": self.peak_case,
                "params": p.to_json(), "efficiency": efficiencies(self),
                "measured_classes": list(self.fit.measured_classes), "fit_mape": self.fit.mape,
                "noise_floor": self.noise_floor, "wall_s": self.wall_s, "clock": self.clock,
                "sparse_kernel_curve": None if self.sparse_curve is None else self.sparse_curve.to_json(),
                "cases": [dict(c.to_json(), predicted_rel_error=self.fit.rel_errors.get(c.name)) for c in self.cases]}


def efficiencies(cal: UnitCalibration) -> dict[str, float]:
    """Achieved rate / peak per op class, in (0, 1] (a class never compute-bound gets 1)."""
    return {c: float(min(1.0, r / cal.peak_flops)) if np.isfinite(r) else 1.0
            for c, r in cal.fit.params.rate_flops.items()}


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo, else platform)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def ram_bytes() -> float:
    """Physical memory (os.sysconf), or 0 if the platform does not say."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0.0


def host_info(unit: str = "cpu") -> HostInfo:
    """Describe this machine now."""
    import torch

    acc = torch.cuda.get_device_name(0) if unit == "gpu" else None
    return HostInfo(cpu_model(), torch.__version__, int(torch.get_num_threads()),
                    _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), ram_bytes(), unit, acc)


class threads_set:
    """Context manager: run torch with ``n`` intra-op threads (None = leave as is), then restore."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.old = 0

    def __enter__(self) -> "threads_set":
        import torch

        self.old = torch.get_num_threads()
        if self.n is not None:
            torch.set_num_threads(int(self.n))
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.old)


def calibrate_unit(unit: str = "cpu", *, quick: bool = False, rounds: int | None = None, clock: str = "wall",
                   progress: Callable[[str], None] | None = None) -> UnitCalibration:
    """Time every micro-benchmark on one unit (cpu, or gpu via CUDA) and fit its parameters.

    Runs with torch's current intra-op thread count (wrap in ``threads_set`` to choose it).
    """
    import torch

    device = "cuda" if unit == "gpu" else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    clock_fn = check_clock(clock, torch.get_num_threads(), device)
    t0 = time.perf_counter()
    if progress:
        progress(f"building {unit} benchmarks")
    benches = build_all(quick, device)
    fns = {b.case.name: b.fn for b in benches}
    n_rounds = rounds if rounds is not None else (3 if quick else 7)
    if progress:
        progress(f"timing {len(fns)} benchmarks x {n_rounds} interleaved rounds on {unit}")
    with torch.no_grad():
        raw = {b.case.name: b.fn for b in benches if b.case.kind not in STEP_KINDS}
        timings = time_interleaved(raw, n_rounds, min_sample_s=0.002 if quick else 0.01, sync=sync,
                                   clock=clock_fn)
    steps = {k: v for k, v in fns.items() if k not in raw}
    timings.update(time_interleaved(steps, n_rounds, min_sample_s=0.0, max_inner=1, sync=sync, clock=clock_fn,
                                    warm_calls=1))
    cases = tuple(replace(b.case, time_s=timings[b.case.name].median_s, samples_s=timings[b.case.name].samples_s)
                  for b in benches)
    fit = fit_host(cases)
    curve = None
    if unit == "cpu":  # CSR is the CPU's sparse kernel; 2:4 on a GPU is timed by benchmarks/gpu_sections.py
        from .sparse_curve import DEFAULT_SHAPE, QUICK_SHAPE, measure_csr_curve

        curve = measure_csr_curve(shape=QUICK_SHAPE if quick else DEFAULT_SHAPE, rounds=n_rounds, clock=clock,
                                  min_sample_s=0.002 if quick else 0.01, progress=progress)
    gemms = [c for c in cases if c.kind in ("gemm", "conv")]
    best = max(gemms, key=lambda c: float(c.flops.sum()) / c.time_s)
    peak = float(best.flops.sum()) / best.time_s
    peak = max([peak] + [r for r in fit.params.rate_flops.values() if np.isfinite(r)])
    return UnitCalibration(unit, cases, fit, peak, best.name, time.perf_counter() - t0, clock, curve)




def available_units() -> list[str]:
    """cpu, plus gpu when torch sees a CUDA device."""
    import torch

    return ["cpu"] + (["gpu"] if torch.cuda.is_available() else [])


@dataclass(frozen=True)
class HostCalibration:
    """The calibration of every unit of this machine, with what it ran on."""

    info: HostInfo
    units: tuple[UnitCalibration, ...]
    quick: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (`calibrate --json`)."""
        return {"host": self.info.to_json(), "quick": self.quick, "units": [u.to_json() for u in self.units]}


def calibrate_host(*, quick: bool = False, clock: str = "wall", units: list[str] | None = None,
                   rounds: int | None = None, progress: Callable[[str], None] | None = None) -> HostCalibration:
    """Calibrate every available unit (cpu, and gpu when CUDA is there) with torch's current threads."""
    names = units if units is not None else available_units()
    cals = tuple(calibrate_unit(u, quick=quick, rounds=rounds, clock=clock if u == "cpu" else "wall",
                                progress=progress) for u in names)
    info = host_info("gpu" if "gpu" in names else "cpu")
    return HostCalibration(info, cals, quick)
