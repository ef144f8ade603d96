"""Estimated time and energy of a recorded run on named devices, in the shape reports and plots read.

The cost model (``zerofl_profiler.analysis.estimate``) owns the arithmetic; this module only asks it
for a run's per-round estimate on each requested device and keeps the few series the reports show.
Reports and figures never import the cost model themselves, so they can be tested on hand-made
:class:`DeviceCost` records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import MissingExtraError
from ..traces.run import RunData


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
    network: str | None = None

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

    def upto(self, last_round: int) -> tuple[float, float]:
        """Cumulative estimated (time_s, energy_j) over rounds <= last_round."""
        idx = [i for i, r in enumerate(self.rounds) if r <= last_round]
        return float(sum(self.time_s[i] for i in idx)), float(sum(self.energy_j[i] for i in idx))


def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs)) / len(xs) if xs else 0.0


def estimate_costs(run: RunData, costing: Any) -> tuple[DeviceCost, ...]:
    """Re-cost ``run`` (RunData) on every device of ``costing`` (a CostingSelection); () when none asked."""
    if costing is None or not (costing.devices or costing.device_files or costing.device_mix):
        return ()
    try:
        from ..analysis.estimate import estimate_run, resolve_costing
    except ImportError as exc:  # the cost-model part is not in this checkout
        raise MissingExtraError(f"device estimates need zerofl_profiler.analysis.estimate ({exc})") from None
    return from_run_estimate(estimate_run(run, resolve_costing(costing)))


def from_run_estimate(estimate: Any) -> tuple[DeviceCost, ...]:
    """Keep the per-round series of the cost model's RunEstimate (one DeviceCost per device or mix)."""
    out = []
    for d in estimate.devices:
        rs = d.rounds
        name = d.device if d.kind != "mix" or d.device.startswith("mix") else f"mix:{d.device}"
        out.append(DeviceCost(
            device=name,
            rounds=tuple(int(r.round) for r in rs),
            time_s=tuple(float(r.cost.time_s) for r in rs),
            time_s_dense=tuple(float(r.cost.dense_time_s) for r in rs),
            energy_j=tuple(float(r.cost.energy_j) for r in rs),
            energy_j_dense=tuple(float(r.cost.dense_energy_j) for r in rs),
            compute_time_s=tuple(float(r.cost.compute_s) for r in rs),
            comm_time_s=tuple(float(r.cost.comm_s) for r in rs),
            network=estimate.network,
        ))
    return tuple(out)
