"""The result types of costing: what a price is, per client-round, round, device and run.

Frozen dataclasses with ``to_json()``. :func:`checked_json` is the one gate every JSON document
of costing passes: it is built completely and refused (a runtime error, exit 1, one line) if it
holds inf or NaN, so no output ever shows one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..errors import ZeroflError


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


def checked_json(doc: Any, what: str = "estimate") -> Any:
    """``doc`` unchanged if every number in it is finite; else one-line runtime error naming the field."""
    def walk(v: Any, path: str) -> None:
        if isinstance(v, float) and not math.isfinite(v):
            raise ZeroflError(f"{what}: {path} is {v!r}; the cost model overflowed (check the device file's "
                              f"values)")
        if isinstance(v, Mapping):
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else str(k))
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")

    walk(doc, "")
    return doc


def assumption_lines(assumptions: tuple[dict[str, Any], ...]) -> list[str]:
    """One human line per device: mode, runtime, precision, energy basis (what tables print)."""
    out = []
    for a in assumptions:
        prec = a["precision"] if isinstance(a["precision"], str) else \
            ", ".join(f"{k}={v}" for k, v in a["precision"].items() if v != "fp32") + ", else fp32"
        out.append(f"{a['device']}: runtime {a['runtime'] or 'default'}, precision {prec}, energy "
                   f"{a['energy_basis']}, efficiency {a['efficiency_curve']}, sparse efficiency "
                   f"{a['sparse_efficiency']}, network {a['network']}")
    return out


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak training memory of one client: weights, gradients, optimizer state, saved activations."""

    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float

    @property
    def total_bytes(self) -> float:
        """Sum of the parts (the peak, as every part is live at the end of backward)."""
        return self.weights_bytes + self.gradients_bytes + self.optimizer_bytes + self.activations_bytes

    def fits(self, ram_bytes: float) -> bool:
        """Whether the peak fits the device RAM."""
        return self.total_bytes <= ram_bytes

    def to_json(self) -> dict[str, float]:
        """JSON-ready dict."""
        return {"weights_bytes": self.weights_bytes, "gradients_bytes": self.gradients_bytes,
                "optimizer_bytes": self.optimizer_bytes, "activations_bytes": self.activations_bytes,
                "total_bytes": self.total_bytes}


@dataclass(frozen=True)
class CostSummary:
    """Time and energy with their compute/communication parts, sparse and the dense baseline."""

    time_s: float
    compute_s: float
    comm_s: float
    energy_j: float
    compute_energy_j: float
    comm_energy_j: float
    wait_energy_j: float
    dense_time_s: float
    dense_compute_s: float
    dense_comm_s: float
    dense_energy_j: float

    @property
    def speedup(self) -> float | None:
        """Dense time / sparse time (> 1: sparse is faster)."""
        return _ratio(self.dense_time_s, self.time_s)

    @property
    def energy_saving(self) -> float | None:
        """1 - sparse energy / dense energy (> 0: sparse saves energy)."""
        r = _ratio(self.energy_j, self.dense_energy_j)
        return None if r is None else 1.0 - r

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (time_s, energy_j and their parts; dense baseline; ratios)."""
        return {"time_s": self.time_s, "compute_s": self.compute_s, "comm_s": self.comm_s,
                "energy_j": self.energy_j, "compute_energy_j": self.compute_energy_j,
                "comm_energy_j": self.comm_energy_j, "wait_energy_j": self.wait_energy_j,
                "dense": {"time_s": self.dense_time_s, "compute_s": self.dense_compute_s,
                          "comm_s": self.dense_comm_s, "energy_j": self.dense_energy_j},
                "speedup": self.speedup, "energy_saving": self.energy_saving}


@dataclass(frozen=True)
class RoundCost:
    """One round on one device (or mix): the slowest client's time, everyone's energy."""

    round: int
    clients: int
    cost: CostSummary

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"round": self.round, "clients": self.clients, **self.cost.to_json()}


@dataclass(frozen=True)
class MemoryCheck:
    """Peak training memory against the device RAM."""

    estimate: MemoryEstimate | None
    ram_bytes: float

    @property
    def fits(self) -> bool | None:
        """None when the memory could not be estimated."""
        return None if self.estimate is None else self.estimate.fits(self.ram_bytes)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"fits": self.fits, "ram_bytes": self.ram_bytes,
                "peak": self.estimate.to_json() if self.estimate else None}


#: Per-round columns kept as arrays (a 10^6-record trace has 10^5 rounds per device).
ROUND_FIELDS = ("time_s", "compute_s", "comm_s", "energy_j", "compute_energy_j", "comm_energy_j", "wait_energy_j",
                "dense_time_s", "dense_compute_s", "dense_comm_s", "dense_energy_j")


@dataclass(frozen=True)
class DeviceEstimate:
    """Client-rounds re-costed on one device (or a device mix): per round (arrays) and in total."""

    device: str
    kind: str
    round_ids: np.ndarray
    round_clients: np.ndarray
    round_table: Mapping[str, np.ndarray]
    total: CostSummary
    memory: tuple[MemoryCheck, ...]

    def __repr__(self) -> str:  # the arrays stay in .to_json() and the tables
        return (f"DeviceEstimate({self.device!r}, {self.kind}, rounds={len(self.round_ids)}, "
                f"time_s={self.total.time_s:.4g}, energy_j={self.total.energy_j:.4g})")

    @property
    def rounds(self) -> tuple[RoundCost, ...]:
        """Per-round costs as objects (built on demand)."""
        cols = [self.round_table[f] for f in ROUND_FIELDS]
        return tuple(RoundCost(int(r), int(n), CostSummary(*(float(c[k]) for c in cols)))
                     for k, (r, n) in enumerate(zip(self.round_ids, self.round_clients)))

    @property
    def fits(self) -> bool | None:
        """False if any device of this entry lacks the RAM; None if unknown."""
        vals = [m.fits for m in self.memory]
        if any(v is False for v in vals):
            return False
        return None if any(v is None for v in vals) else True

    @property
    def worst_memory(self) -> MemoryCheck:
        """The memory check of the device with the least RAM."""
        return min(self.memory, key=lambda m: m.ram_bytes)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"device": self.device, "kind": self.kind, "memory_fits": self.fits,
                "memory": [m.to_json() for m in self.memory],
                "totals": self.total.to_json(), "rounds": [r.to_json() for r in self.rounds]}


@dataclass(frozen=True)
class RunEstimate:
    """Every device's estimate for one run, with what it was based on."""

    run_id: str
    basis: str
    network: str | None
    records: int
    skipped_failed: int
    devices: tuple[DeviceEstimate, ...]
    notes: tuple[str, ...] = ()
    mix: dict[str, Any] | None = None
    assumptions: tuple[dict[str, Any], ...] = ()

    def __repr__(self) -> str:
        return (f"RunEstimate(run_id={self.run_id!r}, records={self.records}, network={self.network!r}, "
                f"devices=[{', '.join(d.device for d in self.devices)}])")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (the `estimate --json` document; refused if it holds inf/NaN)."""
        return checked_json({
            "run_id": self.run_id, "basis": self.basis, "network": self.network, "records": self.records,
            "skipped_failed": self.skipped_failed, "notes": list(self.notes),
            "waiting_clients": "idle power of clients waiting for the straggler is reported as "
                               "wait_energy_j and not included in energy_j",
            "mix": self.mix, "assumptions": list(self.assumptions),
            "devices": [d.to_json() for d in self.devices]})


@dataclass(frozen=True)
class WorkloadPoint:
    """One (device, sparsity) round of the what-if."""

    device: str
    sparsity: float
    cost: CostSummary
    memory: MemoryCheck
    bytes_up: float
    bytes_down: float

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"sparsity": self.sparsity, **self.cost.to_json(), "bytes_up": self.bytes_up,
                "bytes_down": self.bytes_down, "memory_fits": self.memory.fits}


@dataclass(frozen=True)
class CompareResult:
    """The `compare` table: per device, per sparsity, one round of ``clients`` client-rounds."""

    steps: int
    network: str | None
    points: tuple[WorkloadPoint, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    mix: dict[str, Any] | None = None
    workload: dict[str, Any] = field(default_factory=dict)
    clients: int = 1
    assumptions: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict grouped by device (refused if it holds inf/NaN)."""
        devices: dict[str, list[dict[str, Any]]] = {}
        mem: dict[str, Any] = {}
        for p in self.points:
            devices.setdefault(p.device, []).append(p.to_json())
            mem[p.device] = p.memory.to_json()
        return checked_json({
            "workload": self.workload, "steps": self.steps, "clients": self.clients, "network": self.network,
            "notes": list(self.notes), "mix": self.mix, "assumptions": list(self.assumptions),
            "devices": [{"device": k, "memory": mem[k], "results": v} for k, v in devices.items()]},
            "compare")
