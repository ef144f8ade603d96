"""From client-rounds to rounds: the one device-mix rule, used by `estimate` and `compare` alike.

Rule (docs/devices.md): every distinct client is assigned one device (all the same device, or a
seeded, exact-quota draw from ``--device-mix``); a round takes as long as its slowest client
(download + compute + upload); its energy is the sum over its clients. Idle power of clients
waiting for the straggler is reported as ``wait_energy_j``, not included in ``energy_j``.
``compare`` prices one synthetic round of ``clients`` identical client-rounds by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import BadInputError
from .pricing import DeviceArrays, RecordCosts, dense_kernel_notes, price_client_rounds
from .records import DeviceProfile
from .results import ROUND_FIELDS, CompareResult, CostSummary, DeviceEstimate, MemoryCheck, MemoryEstimate, WorkloadPoint
from .selection import Costing
from .workload import ClientRounds, StepProfile, batch_triplets, from_layers

#: How many clients a `compare` round has when a device mix is asked and --clients is not given.
MIX_DEFAULT_CLIENTS = 10


@dataclass(frozen=True)
class _Rounds:
    """Records grouped by round once, shared by every device."""

    ids: np.ndarray
    counts: np.ndarray
    inv: np.ndarray  # round index of each record
    order: np.ndarray  # records sorted by round
    starts: np.ndarray  # first sorted position of each round

    @staticmethod
    def of(rounds: np.ndarray) -> "_Rounds":
        ids, inv, counts = np.unique(rounds, return_inverse=True, return_counts=True)
        order = np.argsort(inv, kind="stable")
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        return _Rounds(ids, counts, inv, order, starts)

    def slowest(self, t: np.ndarray) -> np.ndarray:
        """Record index of the slowest client of each round (first one on ties)."""
        ts = t[self.order]
        mx = np.maximum.reduceat(ts, self.starts)
        hit = np.flatnonzero(ts == mx[self.inv[self.order]])
        _, first = np.unique(self.inv[self.order][hit], return_index=True)
        return self.order[hit[first]]


def _summaries(c: RecordCosts, row: np.ndarray | int, g: _Rounds,
               idle_w: np.ndarray | float) -> tuple[dict[str, np.ndarray], CostSummary]:
    """Per-round columns and totals for one device row (or a per-record row choice for a mix)."""
    def pick(a: np.ndarray) -> np.ndarray:
        return a[row, np.arange(a.shape[1])] if isinstance(row, np.ndarray) else a[row]

    comp, comm = pick(c.compute_s), pick(c.comm_s)
    t = comp + comm
    dcomp, dcomm = pick(c.dense_compute_s), pick(c.dense_comm_s)
    dt = dcomp + dcomm
    e_comp, e_comm = pick(c.compute_energy_j), pick(c.comm_energy_j)
    de = pick(c.dense_compute_energy_j) + pick(c.dense_comm_energy_j)
    slow, slow_d = g.slowest(t), g.slowest(dt)
    n = len(g.ids)
    wait = np.asarray(idle_w) * (t[slow][g.inv] - t)

    def rsum(v: np.ndarray) -> np.ndarray:
        return np.bincount(g.inv, weights=v, minlength=n)

    table = {"time_s": t[slow], "compute_s": comp[slow], "comm_s": comm[slow],
             "compute_energy_j": rsum(e_comp), "comm_energy_j": rsum(e_comm), "wait_energy_j": rsum(wait),
             "dense_time_s": dt[slow_d], "dense_compute_s": dcomp[slow_d], "dense_comm_s": dcomm[slow_d],
             "dense_energy_j": rsum(de)}
    table["energy_j"] = table["compute_energy_j"] + table["comm_energy_j"]
    total = CostSummary(*(float(table[f].sum()) for f in ROUND_FIELDS))
    return table, total


def price_population(step: StepProfile, cols: ClientRounds, costing: Costing, *, seed: int = 0,
                     row_exact: bool = False, memory: MemoryEstimate | None = None
                     ) -> tuple[tuple[DeviceEstimate, ...], dict[str, Any] | None]:
    """Every device (all clients on it) and the mix (clients assigned) over all client-rounds."""
    g = _Rounds.of(cols.rounds)
    mem = memory if memory is not None else step.memory_at(cols.max_batch or (step.reference_batch or 1.0))
    entries: list[DeviceEstimate] = []
    mix_json = None

    def price(profiles: Sequence[DeviceProfile]) -> tuple[DeviceArrays, RecordCosts]:
        dev = DeviceArrays.of(profiles)
        return dev, price_client_rounds(step, cols, dev, costing.network, row_exact=row_exact)

    if costing.devices:
        _, c = price(costing.devices)
        for i, p in enumerate(costing.devices):
            table, total = _summaries(c, i, g, p.idle_power_w)
            entries.append(DeviceEstimate(p.name, "device", g.ids, g.counts, table, total,
                                          (MemoryCheck(mem, p.ram_bytes),)))
    if costing.mix is not None:
        mix = costing.mix
        dev, c = price(mix.profiles)
        ids = np.unique(cols.client_ids)
        labels = mix.assign(ids, seed)
        row = labels[np.searchsorted(ids, cols.client_ids)]
        table, total = _summaries(c, row, g, dev.idle_w[row])
        entries.append(DeviceEstimate(mix.name, "mix", g.ids, g.counts, table, total,
                                      tuple(MemoryCheck(mem, p.ram_bytes) for p in mix.profiles)))
        mix_json = {**mix.to_json(), "seed": seed,
                    "assignment": {str(int(k)): mix.profiles[int(v)].name for k, v in zip(ids, labels)},
                    "rule": "clients are assigned devices; a round waits for its slowest client; "
                            "energy sums over the clients"}
    return tuple(entries), mix_json


def identical_rounds(step: StepProfile, steps: int, clients: int, *, batch_size: float, bytes_down: float,
                     bytes_up: float, bytes_up_dense: float) -> ClientRounds:
    """One round of ``clients`` identical client-rounds of ``steps`` steps of the profile's rows."""
    fd = np.repeat((step.dense_phase_flops * steps)[None, :], clients, axis=0)
    fs = np.repeat((step.sparse_phase_flops * steps)[None, :], clients, axis=0)
    sizes, rec, idx, cnt = batch_triplets([[batch_size] * steps] * clients)
    return ClientRounds(rounds=np.zeros(clients, dtype=np.int64), client_ids=np.arange(clients, dtype=np.int64),
                        steps=np.full(clients, float(steps)), fd=fd, fs=fs,
                        bytes_down=np.full(clients, float(bytes_down)), bytes_up=np.full(clients, float(bytes_up)),
                        bytes_up_dense=np.full(clients, float(bytes_up_dense)), batch_sizes=sizes,
                        batch_record=rec, batch_index=idx, batch_count=cnt)


def compare_workload(reports: Mapping[float, Mapping[str, Any]], steps: int, costing: Costing, *,
                     bytes_down: float = 0.0, bytes_up: Mapping[float, float] | None = None,
                     bytes_up_dense: float | None = None, memory: MemoryEstimate | None = None,
                     workload: Mapping[str, Any] | None = None, clients: int | None = None,
                     seed: int = 0) -> CompareResult:
    """Price one round per sparsity (reports: sparsity -> `flops --json` doc) on every device and the mix.

    The round has ``clients`` client-rounds of ``steps`` steps each (default 1, or
    MIX_DEFAULT_CLIENTS with a mix) and follows the same rule as `estimate` (module docstring).
    """
    if steps <= 0:
        raise BadInputError(f"--steps must be positive, got {steps}")
    k = clients if clients is not None else (MIX_DEFAULT_CLIENTS if costing.mix is not None else 1)
    if k <= 0:
        raise BadInputError(f"--clients must be positive, got {k}")
    points: list[WorkloadPoint] = []
    notes: list[str] = []
    mix_json = None
    for sp, doc in reports.items():
        step = from_layers(doc)
        notes.extend(n for n in step.notes if n not in notes)
        up = float((bytes_up or {}).get(sp, bytes_up_dense or 0.0))
        upd = float(bytes_up_dense if bytes_up_dense is not None else up)
        cols = identical_rounds(step, steps, k, batch_size=step.reference_batch or 1.0, bytes_down=bytes_down,
                                bytes_up=up, bytes_up_dense=upd)
        entries, mj = price_population(step, cols, costing, seed=seed, row_exact=True, memory=memory)
        mix_json = mj or mix_json
        for e in entries:
            points.append(WorkloadPoint(e.device, float(sp), e.total, e.worst_memory, up, float(bytes_down)))
    profiles = list(costing.devices) + (list(costing.mix.profiles) if costing.mix is not None else [])
    notes.extend(dense_kernel_notes(profiles, [1.0 - float(sp) for sp in reports]))
    return CompareResult(steps, costing.network.name if costing.network else None, tuple(points), tuple(notes),
                         mix_json, dict(workload or {}), k, costing.assumptions())
