"""The run comparison: the one object every report format and every figure takes.

A :class:`RunComparison` holds, for one call of ``report`` or ``plot``, the run summaries, each
run's device estimates (:class:`DeviceCost`, one per device or device mix, each carrying the
:class:`EstimateBasis` it assumed) and the target accuracy. Renderers only read it; nothing in it
points back at a renderer. The cost model is reached through :func:`estimate_costs` alone (the one
import of the cost results in this module), so a renderer can be tested on hand-made records.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from ..errors import BadInputError, MissingExtraError
from ..traces.run import RunData, load_run
from .measured import CalibrationCheck, EstimatedTotals, MeasuredRun, calibration_check
from .summary import RunSummary, summarize_run, time_to_target

#: What `estimate` prints under every table; every estimate in a report repeats it.
WAIT_NOTE = ("totals sum the rounds; clients waiting for the straggler draw idle power, reported apart "
             "(not included in energy)")
NO_NETWORK = "no network: transfers not costed"

#: Anything a figure or report accepts as a run: a run directory, a loaded run, or its summary.
RunLike = Union[str, Path, RunData, RunSummary]


@dataclass(frozen=True)
class EstimateBasis:
    """What one device estimate assumed: shown beside every estimated number."""

    device: str
    kind: str = "device"
    mode: str | None = None
    unit: str | None = None
    precision: str | None = None
    network: str | None = None
    energy_model: str | None = None
    basis: str | None = None
    notes: tuple[str, ...] = ()
    members: tuple[str, ...] = ()

    @property
    def network_text(self) -> str:
        """The network the transfers were priced on, or that they were not priced."""
        return f"network {self.network}: download and upload costed" if self.network else NO_NETWORK

    @property
    def energy_text(self) -> str:
        """How the energy was obtained (always an estimate here)."""
        model = self.energy_model or "unknown"
        return f"estimated by the {model} energy model of {self.device}"

    @property
    def device_text(self) -> str:
        """Device, compute unit and power mode as costed."""
        if self.kind == "mix":
            return f"device mix {self.device}" + (f" of {', '.join(self.members)}" if self.members else "")
        if self.unit is None:  # the estimator did not say which profile it priced
            return f"{self.device} (unit and mode not stated)"
        return f"{self.device}, unit {self.unit}, " + (f"mode {self.mode}" if self.mode else "no power modes")

    def lines(self) -> tuple[str, ...]:
        """Every assumption as one short line each, in a fixed order."""
        out = [f"device: {self.device_text}",
               f"precision: {self.precision or 'unknown (no layers.json dtype)'}",
               self.network_text, f"energy: {self.energy_text}"]
        if self.basis:
            out.append(f"workload basis: {self.basis}")
        return tuple(out) + tuple(f"note: {n}" for n in self.notes)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (the lines as rendered, plus the raw fields)."""
        return {"device": self.device, "kind": self.kind, "mode": self.mode, "unit": self.unit,
                "precision": self.precision, "network": self.network, "network_text": self.network_text,
                "energy_model": self.energy_model, "energy_text": self.energy_text, "basis": self.basis,
                "notes": list(self.notes), "members": list(self.members)}


@dataclass(frozen=True)
class MemoryBound:
    """Estimated peak training memory of one client against the device RAM."""

    peak_bytes: float | None
    ram_bytes: float
    fits: bool | None


@dataclass(frozen=True)
class DeviceCost:
    """One run re-costed on one device (or device mix): per-round time and energy, sparse and dense."""

    device: str
    rounds: tuple[int, ...]
    time_s: tuple[float, ...]
    time_s_dense: tuple[float, ...]
    energy_j: tuple[float, ...]
    energy_j_dense: tuple[float, ...]
    compute_time_s: tuple[float, ...] | None = None
    comm_time_s: tuple[float, ...] | None = None
    comm_energy_j: tuple[float, ...] | None = None
    network: str | None = None
    basis: EstimateBasis | None = None
    memory: tuple[MemoryBound, ...] = ()

    def __repr__(self) -> str:
        """One line; the series are in the fields."""
        return (f"DeviceCost({self.device!r}, rounds={len(self.rounds)}, mean_time_s={self.mean_time_s:.4g}, "
                f"mean_energy_j={self.mean_energy_j:.4g}, network={self.network!r})")

    @property
    def label(self) -> str:
        """How figures and tables name the device: always says it is an estimate."""
        return f"{self.device} (estimated)"

    @property
    def mean_time_s(self) -> float:
        """Mean estimated round time, sparse."""
        return _mean(self.time_s)

    @property
    def mean_time_s_dense(self) -> float:
        """Mean estimated round time if the same rounds ran dense."""
        return _mean(self.time_s_dense)

    @property
    def mean_energy_j(self) -> float:
        """Mean estimated energy per round, sparse."""
        return _mean(self.energy_j)

    @property
    def mean_energy_j_dense(self) -> float:
        """Mean estimated energy per round if the same rounds ran dense."""
        return _mean(self.energy_j_dense)

    @property
    def speedup(self) -> float | None:
        """Dense run time over sparse run time on this device (>1: sparse is faster)."""
        s = sum(self.time_s)
        return sum(self.time_s_dense) / s if s > 0 else None

    @property
    def energy_saving(self) -> float | None:
        """1 - sparse energy / dense energy over the run."""
        d = sum(self.energy_j_dense)
        return 1.0 - sum(self.energy_j) / d if d > 0 else None

    @property
    def peak_memory_bytes(self) -> float | None:
        """The estimated peak training memory (the same workload on every device of a mix)."""
        vals = [m.peak_bytes for m in self.memory if m.peak_bytes is not None]
        return max(vals) if vals else None

    @property
    def fits(self) -> bool | None:
        """False if any device of this entry lacks the RAM; None if unknown."""
        vals = [m.fits for m in self.memory]
        if any(v is False for v in vals):
            return False
        return None if not vals or any(v is None for v in vals) else True

    @property
    def mean_comm_time_s(self) -> float | None:
        """Mean estimated transfer time per round (None when the split is unknown)."""
        return None if self.comm_time_s is None else _mean(self.comm_time_s)

    @property
    def mean_comm_energy_j(self) -> float | None:
        """Mean estimated transfer energy per round (None when the split is unknown)."""
        return None if self.comm_energy_j is None else _mean(self.comm_energy_j)

    def measured_basis(self) -> EstimatedTotals:
        """The estimate on the basis a run measures: compute time and energy (transfers excluded), peak memory."""
        comp_t = sum(self.compute_time_s) if self.compute_time_s is not None else None
        comp_e = sum(self.energy_j) - (sum(self.comm_energy_j) if self.comm_energy_j is not None else 0.0)
        return EstimatedTotals(None if comp_t is None else float(comp_t), float(comp_e), self.peak_memory_bytes)

    def upto(self, last_round: int) -> tuple[float, float]:
        """Cumulative estimated (time_s, energy_j) over rounds <= last_round."""
        idx = [i for i, r in enumerate(self.rounds) if r <= last_round]
        return float(sum(self.time_s[i] for i in idx)), float(sum(self.energy_j[i] for i in idx))

    def energy_by_round(self) -> dict[int, float]:
        """Round -> estimated energy (sparse)."""
        return dict(zip(self.rounds, self.energy_j))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (series, means, ratios and the basis)."""
        return {"device": self.device, "estimated": True, "rounds": list(self.rounds),
                "time_s": list(self.time_s), "time_s_dense": list(self.time_s_dense),
                "energy_j": list(self.energy_j), "energy_j_dense": list(self.energy_j_dense),
                "compute_time_s": None if self.compute_time_s is None else list(self.compute_time_s),
                "comm_time_s": None if self.comm_time_s is None else list(self.comm_time_s),
                "comm_energy_j": None if self.comm_energy_j is None else list(self.comm_energy_j),
                "mean_time_s": self.mean_time_s, "mean_time_s_dense": self.mean_time_s_dense,
                "mean_energy_j": self.mean_energy_j, "mean_energy_j_dense": self.mean_energy_j_dense,
                "speedup": self.speedup, "energy_saving": self.energy_saving,
                "peak_memory_bytes": self.peak_memory_bytes, "memory_fits": self.fits,
                "ram_bytes": [m.ram_bytes for m in self.memory],
                "basis": self.basis.to_json() if self.basis else None}


def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs)) / len(xs) if xs else 0.0


@dataclass(frozen=True)
class RunComparison:
    """Runs side by side with their device estimates: what every report and figure renders."""

    summaries: tuple[RunSummary, ...]
    costs: Mapping[str, tuple[DeviceCost, ...]] = field(default_factory=dict)
    target_accuracy: float | None = None
    checks: Mapping[str, CalibrationCheck] = field(default_factory=dict)  # run_id -> measured vs its device

    def check_of(self, s: RunSummary) -> CalibrationCheck | None:
        """The run's measurements beside the estimate of its own device (None: no estimates, or a summary only)."""
        return self.checks.get(s.run_id)

    def __repr__(self) -> str:
        """One line; the detail is in ``to_json()`` and the report tables."""
        return (f"RunComparison(runs={[s.name for s in self.summaries]}, devices={self.devices}, "
                f"target_accuracy={self.target_accuracy})")

    def costs_of(self, s: RunSummary) -> tuple[DeviceCost, ...]:
        """The device estimates of one run (() when none were requested)."""
        return tuple(self.costs.get(s.run_id, ()))

    def cost(self, s: RunSummary, device: str) -> DeviceCost | None:
        """One run's estimate on one device, if it was costed there."""
        return next((c for c in self.costs_of(s) if c.device == device), None)

    @property
    def devices(self) -> list[str]:
        """Every device estimated for any run, in first-seen order."""
        seen: list[str] = []
        for cs in self.costs.values():
            for c in cs:
                if c.device not in seen:
                    seen.append(c.device)
        return seen


def estimate_costs(run: RunData, costing: Any) -> tuple[DeviceCost, ...]:
    """Re-cost ``run`` on every device of ``costing`` (a CostingSelection); () when none asked."""
    if costing is None or not (costing.devices or costing.device_files or costing.device_mix):
        return ()
    try:  # the one import of the cost results
        from .estimate import estimate_run, resolve_costing
    except ImportError as exc:  # pragma: no cover - the cost model is part of the package
        raise MissingExtraError(f"device estimates need zerofl_profiler.analysis.estimate ({exc})") from None
    resolved = resolve_costing(costing)
    return from_run_estimate(estimate_run(run, resolved), resolved, precision=_precision(run))


def _precision(run: RunData) -> str | None:
    dtype = run.layers.dtype if run.layers is not None else None
    return f"{dtype} (the run's layers.json dtype)" if dtype else None


def from_run_estimate(estimate: Any, costing: Any = None, *, precision: str | None = None) -> tuple[DeviceCost, ...]:
    """Keep the per-round series of the cost model's RunEstimate (one DeviceCost per device or mix),
    with what each entry assumed (device, mode, precision, network, energy model, notes)."""
    profiles = {p.name: p for p in getattr(costing, "devices", ())}
    mix = getattr(costing, "mix", None)
    notes = tuple(estimate.notes) + (WAIT_NOTE,)
    out = []
    for d in estimate.devices:
        rs = d.rounds
        name = d.device if d.kind != "mix" or d.device.startswith("mix") else f"mix:{d.device}"
        p = profiles.get(d.device) if d.kind != "mix" else None
        if d.kind == "mix" and mix is not None:
            energy = "+".join(sorted({q.energy_mode for q in mix.profiles}))
            basis = EstimateBasis(name, "mix", None, None, precision, estimate.network, energy, estimate.basis,
                                  notes, tuple(q.name for q in mix.profiles))
        else:
            basis = EstimateBasis(name, "device", getattr(p, "mode", None), getattr(p, "unit", None), precision,
                                  estimate.network, getattr(p, "energy_mode", None), estimate.basis, notes)
        memory = tuple(MemoryBound(m.estimate.total_bytes if m.estimate else None, float(m.ram_bytes), m.fits)
                       for m in d.memory)
        out.append(DeviceCost(
            device=name,
            rounds=tuple(int(r.round) for r in rs),
            time_s=tuple(float(r.cost.time_s) for r in rs),
            time_s_dense=tuple(float(r.cost.dense_time_s) for r in rs),
            energy_j=tuple(float(r.cost.energy_j) for r in rs),
            energy_j_dense=tuple(float(r.cost.dense_energy_j) for r in rs),
            compute_time_s=tuple(float(r.cost.compute_s) for r in rs),
            comm_time_s=tuple(float(r.cost.comm_s) for r in rs),
            comm_energy_j=tuple(float(r.cost.comm_energy_j) for r in rs),
            network=estimate.network,
            basis=basis,
            memory=memory,
        ))
    return tuple(out)


Estimator = Callable[[RunData, Any], Iterable[DeviceCost]]


def compare_runs(runs: Sequence[RunLike] | RunLike, costing: Any = None, *, target_accuracy: float | None = None,
                 estimator: Estimator = estimate_costs) -> RunComparison:
    """Load, summarise and (when devices are requested) re-cost each run: the one comparison."""
    items = _as_list(runs)
    if not items:
        raise BadInputError("give at least one run directory")
    loaded = [(x if isinstance(x, (RunData, RunSummary)) else load_run(x)) for x in items]
    ids = [x.run_id for x in loaded]
    if len(set(ids)) != len(ids):
        raise BadInputError(f"the same run was given twice: {', '.join(sorted({i for i in ids if ids.count(i) > 1}))}")
    summaries = []
    for x in loaded:
        if isinstance(x, RunSummary):
            if target_accuracy is not None and (x.target is None or x.target.target != target_accuracy):
                x = replace(x, target=time_to_target(x, target_accuracy))
            summaries.append(x)
        else:
            summaries.append(summarize_run(x, target_accuracy=target_accuracy))
    costs: dict[str, tuple[DeviceCost, ...]] = {}
    checks: dict[str, CalibrationCheck] = {}
    if costing is not None:
        for x in loaded:
            if isinstance(x, RunSummary):
                raise BadInputError(f"run {x.name!r}: device estimates need the run directory or RunData, "
                                    "not a summary")
            c = tuple(estimator(x, costing))
            if c:
                costs[x.run_id] = c
                checks[x.run_id] = calibration_check(MeasuredRun.of(x), {d.device: d.measured_basis() for d in c})
    return RunComparison(tuple(summaries), costs, target_accuracy, checks)


def as_comparison(runs: RunComparison | Sequence[RunLike] | RunLike,
                  costs: Mapping[str, Sequence[DeviceCost]] | None = None,
                  target_accuracy: float | None = None) -> RunComparison:
    """What figure functions accept, as a comparison: a RunComparison, or runs (paths, RunData,
    summaries) plus optional hand-made estimates keyed by run_id."""
    if isinstance(runs, RunComparison):
        if costs is None and target_accuracy is None:
            return runs
        return RunComparison(runs.summaries, {k: tuple(v) for k, v in (costs or runs.costs).items()},
                             runs.target_accuracy if target_accuracy is None else target_accuracy,
                             runs.checks if costs is None else {})
    base = compare_runs(runs, target_accuracy=target_accuracy)
    return RunComparison(base.summaries, {k: tuple(v) for k, v in (costs or {}).items()}, target_accuracy)


def _as_list(runs: Sequence[RunLike] | RunLike) -> list[RunLike]:
    if isinstance(runs, (str, Path, RunData, RunSummary)):
        return [runs]
    return list(runs)


__all__ = ["DeviceCost", "EstimateBasis", "MemoryBound", "NO_NETWORK", "RunComparison", "RunLike", "WAIT_NOTE",
           "as_comparison", "compare_runs", "estimate_costs", "from_run_estimate"]
