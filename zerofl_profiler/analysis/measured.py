"""A run's own measurements beside the model of the device it ran on: the calibration check.

What the trace measured, reduced to the quantities a device estimate predicts, on the same basis:

- time: per round, the slowest successful client's training time -- its ``accelerator_time_s``
  (CUDA events) when every record has one, else its ``wall_time_s`` -- summed over rounds; set
  beside the estimate's compute time (the slowest client's, per round, summed: transfers excluded,
  as the measured window holds no network);
- energy: the sum of the records' measured ``energy.total_j`` (only when every successful record
  was measured, from its named source), beside the estimate's compute energy (transfers excluded);
- peak memory: the largest ``peak_mem_bytes`` of the records, with its ``mem_source`` (``cuda``:
  the peak allocated device memory; ``rss``: the process's peak resident memory, which also holds
  the framework, the data and the code), beside the estimated peak training memory of one client.

Which requested device is "the run's device" (the matching rule): ``--measured-as NAME`` names it
outright; otherwise a CPU run (``environment.accelerator.device = "cpu"``, or a run recorded before
the accelerator was fingerprinted, which trained on the CPU) is the device named ``host`` (or
``host-cpu``), and a CUDA run is the requested device whose name -- without ``@MODE`` and a trailing
``-gpu`` unit -- split at ``-`` has every part among the words of the GPU name torch reported
(``h100`` and ``h100-gpu`` match "NVIDIA H100 80GB HBM3", ``v100`` "Tesla V100-SXM2-32GB"; an H200
matches no ``h100``). No match, or more than one: no comparison, and a note says why.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import BadInputError
from ..traces.run import RunData

#: The trace columns the measured side reads (added to the costing's when a comparison is asked for).
MEASURED_FIELDS = ("round", "status", "wall_time_s", "accelerator_time_s", "peak_mem_bytes", "mem_source",
                   "energy_source", "energy_total_j")
HOST_DEVICE = "host"


@dataclass(frozen=True)
class RunDevice:
    """What the run's fingerprint says it trained on."""

    device: str  # "cpu", "cuda:0", "mps"
    name: str  # the accelerator's reported name ("cpu" on the host)
    recorded: bool  # False: the fingerprint has no accelerator entry (taken as the CPU)

    @staticmethod
    def of(run: RunData) -> "RunDevice":
        """From config.toml's [environment.accelerator] (absent: the run trained on the CPU)."""
        env = run.stored.environment if run.stored is not None else {}
        acc = env.get("accelerator") if isinstance(env, Mapping) else None
        if not isinstance(acc, Mapping):
            return RunDevice("cpu", "cpu", False)
        return RunDevice(str(acc.get("device", "cpu")), str(acc.get("name", acc.get("device", "cpu"))), True)

    @property
    def is_host(self) -> bool:
        """True for a CPU run."""
        return self.device == "cpu"


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if w}


def name_matches(device_name: str, run_device: RunDevice) -> bool:
    """The matching rule for one requested device name (see the module docstring)."""
    base = device_name.lower().split("@", 1)[0]  # a power mode does not change which device it is
    if run_device.is_host:
        return base in (HOST_DEVICE, f"{HOST_DEVICE}-cpu")
    parts = [p for p in base.split("-") if p]
    if len(parts) > 1 and parts[-1] == "gpu":  # the GPU unit of the device: what a CUDA run trains on
        parts = parts[:-1]
    return bool(parts) and set(parts) <= _words(run_device.name)


@dataclass(frozen=True)
class DeviceMatch:
    """Which requested device the measurements are set beside, and why (or why none)."""

    device: str | None
    matched_by: str  # "measured-as", "name", or "none"
    note: str


def match_device(run_device: RunDevice, requested: Sequence[str], measured_as: str | None = None) -> DeviceMatch:
    """The requested device that is the run's own, by ``measured_as`` or by the matching rule."""
    if measured_as is not None:
        if measured_as not in requested:
            raise BadInputError(f"--measured-as {measured_as}: not among the devices costed "
                                f"({', '.join(requested) or 'none'}); add --device {measured_as}")
        return DeviceMatch(measured_as, "measured-as",
                           f"measured values set beside {measured_as} as --measured-as says "
                           f"(the run trained on {run_device.device}: {run_device.name})")
    hits = [d for d in requested if name_matches(d, run_device)]
    what = f"{run_device.device} ({run_device.name})" if not run_device.is_host else "the CPU"
    if len(hits) == 1:
        return DeviceMatch(hits[0], "name", f"the run trained on {what}: measured values set beside {hits[0]}")
    if not hits:
        return DeviceMatch(None, "none", f"the run trained on {what}; no requested device matches it "
                                         f"(pass --measured-as NAME to compare with one)")
    return DeviceMatch(None, "none", f"the run trained on {what}; several requested devices match it "
                                     f"({', '.join(hits)}): pass --measured-as NAME")


@dataclass(frozen=True)
class MemoryDistribution:
    """Measured peak memory per client-round: how many records carry one, and its spread."""

    source: str  # "cuda", "rss", mixed "cuda+rss", or "none"
    records: int  # successful client-rounds
    measured: int  # of which carry peak_mem_bytes
    min_bytes: float | None = None
    median_bytes: float | None = None
    max_bytes: float | None = None

    @staticmethod
    def of(peak: np.ndarray, source: np.ndarray) -> "MemoryDistribution":
        """From the ok records' ``peak_mem_bytes`` (NaN = not measured) and ``mem_source`` columns."""
        have = ~np.isnan(peak)
        srcs = sorted({str(s) for s in source[have]} - {"none"})
        if not have.any():
            return MemoryDistribution("none", len(peak), 0)
        v = peak[have]
        return MemoryDistribution("+".join(srcs) or "none", len(peak), int(have.sum()),
                                  float(v.min()), float(np.median(v)), float(v.max()))

    def to_json(self) -> dict[str, Any]:
        """Fixed fields; None where not measured."""
        return {"source": self.source, "records": self.records, "measured": self.measured,
                "min_bytes": self.min_bytes, "median_bytes": self.median_bytes, "max_bytes": self.max_bytes}


@dataclass(frozen=True)
class MeasuredRun:
    """The run's measurements on the basis a device estimate predicts (see the module docstring)."""

    device: RunDevice
    records: int
    time_s: float | None
    time_source: str  # "accelerator_time_s" or "wall_time_s"
    energy_j: float | None
    energy_source: str  # the recorded source(s), "none" when unmeasured
    energy_measured: int  # records with a measured energy
    memory: MemoryDistribution

    @staticmethod
    def of(run: RunData) -> "MeasuredRun":
        """Reduce the run's successful client-round columns."""
        cols = run.columns
        ok = cols.ok
        rounds = cols.round[ok]
        acc = cols.accelerator_time_s[ok].astype(np.float64)
        wall = cols.wall_time_s[ok].astype(np.float64)
        use_acc = len(acc) > 0 and not np.isnan(acc).any()
        t = acc if use_acc else wall
        per_round = {}
        for r, v in zip(rounds.tolist(), t.tolist()):
            per_round[r] = max(per_round.get(r, 0.0), v)
        e = cols.energy_total_j[ok].astype(np.float64)
        src = cols.energy_source[ok]
        measured = ~np.isnan(e) & (src != "none")
        complete = len(e) > 0 and bool(measured.all())
        srcs = sorted({str(s) for s in src[measured]})
        return MeasuredRun(
            device=RunDevice.of(run), records=int(ok.sum()),
            time_s=float(sum(per_round.values())) if per_round else None,
            time_source="accelerator_time_s" if use_acc else "wall_time_s",
            energy_j=float(e.sum()) if complete else None,
            energy_source="+".join(srcs) if srcs else "none", energy_measured=int(measured.sum()),
            memory=MemoryDistribution.of(cols.peak_mem_bytes[ok].astype(np.float64), cols.mem_source[ok]))


@dataclass(frozen=True)
class QuantityCheck:
    """One quantity measured and estimated on the same device: both values, their bases, the ratio."""

    quantity: str  # "time_s", "energy_j", "peak_mem_bytes"
    measured: float | None
    measured_source: str
    estimated: float | None
    estimated_basis: str

    @property
    def ratio(self) -> float | None:
        """measured / estimated (>1: the model is optimistic); None when either is missing or 0."""
        if self.measured is None or self.estimated is None or not self.estimated > 0:
            return None
        r = self.measured / self.estimated
        return r if math.isfinite(r) else None

    def to_json(self) -> dict[str, Any]:
        """Fixed fields."""
        return {"quantity": self.quantity, "measured": self.measured, "measured_source": self.measured_source,
                "estimated": self.estimated, "estimated_basis": self.estimated_basis, "ratio": self.ratio}


@dataclass(frozen=True)
class CalibrationCheck:
    """The run's measurements beside the estimate of its own device (None fields: no match)."""

    run_device: RunDevice
    match: DeviceMatch
    checks: tuple[QuantityCheck, ...]
    memory: MemoryDistribution

    @property
    def device(self) -> str | None:
        """The requested device the measurements stand beside."""
        return self.match.device

    def to_json(self) -> dict[str, Any]:
        """Fixed fields: every quantity is listed (with nulls) even when nothing matched."""
        return {"run_device": self.run_device.device, "run_device_name": self.run_device.name,
                "device_recorded": self.run_device.recorded, "device": self.match.device,
                "matched_by": self.match.matched_by, "note": self.match.note,
                "quantities": {c.quantity: c.to_json() for c in self.checks},
                "memory_distribution": self.memory.to_json()}


@dataclass(frozen=True)
class EstimatedTotals:
    """One device's estimate on the measured basis: compute time and energy (transfers excluded), peak memory."""

    time_s: float | None = None
    energy_j: float | None = None
    peak_mem_bytes: float | None = None


#: The quantities every check lists, in order.
QUANTITIES = ("time_s", "energy_j", "peak_mem_bytes")


def calibration_check(measured: MeasuredRun, estimated: Mapping[str, EstimatedTotals],
                      measured_as: str | None = None) -> CalibrationCheck:
    """Set the measurements beside the estimate of the run's own device among ``estimated`` (device -> totals)."""
    match = match_device(measured.device, list(estimated), measured_as)
    est = estimated[match.device] if match.device is not None else EstimatedTotals()
    mem = measured.memory
    mem_src = f"peak_mem_bytes, max over {mem.measured} client-rounds ({mem.source})" if mem.measured else "not measured"
    energy_src = (f"energy.total_j, sum ({measured.energy_source})" if measured.energy_j is not None else
                  f"not measured ({measured.energy_measured}/{measured.records} client-rounds have energy)")
    checks = (
        QuantityCheck("time_s", measured.time_s, f"{measured.time_source}, slowest client per round, summed",
                      est.time_s, "compute time, slowest client per round, summed (transfers excluded)"),
        QuantityCheck("energy_j", measured.energy_j, energy_src, est.energy_j,
                      "compute energy of every client-round (transfers excluded)"),
        QuantityCheck("peak_mem_bytes", mem.max_bytes, mem_src, est.peak_mem_bytes, "peak training memory of one client"),
    )
    return CalibrationCheck(measured.device, match, checks, mem)


__all__ = ["CalibrationCheck", "DeviceMatch", "EstimatedTotals", "HOST_DEVICE", "MEASURED_FIELDS", "MeasuredRun", "MemoryDistribution",
           "QUANTITIES", "QuantityCheck", "RunDevice", "calibration_check", "match_device", "name_matches"]
