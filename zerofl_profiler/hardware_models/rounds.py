"""From client-rounds to rounds: the one device-mix rule, used by `estimate` and `compare` alike.

Rule (docs/devices.md): every distinct client is assigned one device (all the same device, or a
seeded, exact-quota draw from ``--device-mix``); a round takes as long as its slowest client
(download + compute + upload); its energy is the sum over its clients. Idle power of clients
waiting for the straggler is reported as ``wait_energy_j``, not included in ``energy_j``.
``compare`` prices one synthetic round of ``clients`` identical client-rounds by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import BadInputError
from .pricing import DeviceArrays, RecordCosts, dense_kernel_notes, price_client_rounds
from .records import DeviceProfile
from .results import ROUND_FIELDS, CompareResult, CostSummary, DeviceEstimate, MemoryCheck, MemoryEstimate, WorkloadPoint
from .selection import Costing
from .workload import ClientRounds, StepProfile, batch_triplets, from_layers

#: How many clients a `compare` round has when a device mix is asked and --clients is not given.
MIX_DEFAULT_CLIENTS = 10
#: Devices x client-rounds priced in one go: records are priced in chunks of whole rounds so that
#: each (devices, records) cost array holds at most this many floats (bounded memory on 10^6 records).
PRICE_BATCH_ELEMENTS = 1 << 21


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
        inv_sorted = self.inv[self.order]
        mx = np.maximum.reduceat(ts, self.starts)
        hit = np.flatnonzero(ts == mx[inv_sorted])
        r = inv_sorted[hit]  # non-decreasing: the first hit of each round is where r changes
        first = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        return self.order[hit[first]]


def _summaries(c: RecordCosts, row: np.ndarray | int, g: _Rounds,
               idle_w: np.ndarray | float) -> dict[str, np.ndarray]:
    """Per-round columns for one device row (or a per-record row choice for a mix)."""
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
    return table


def _total(table: Mapping[str, np.ndarray]) -> CostSummary:
    """The run's totals: every per-round column summed."""
    return CostSummary(*(float(table[f].sum()) for f in ROUND_FIELDS))


def _round_chunks(g: _Rounds, n_records: int, n_dev: int) -> list[np.ndarray]:
    """Record indices in chunks of whole rounds, each at most PRICE_BATCH_ELEMENTS // n_dev records
    (a bigger round is a chunk of its own); one chunk (all records, in file order) when they fit."""
    most = max(1, PRICE_BATCH_ELEMENTS // max(n_dev, 1))
    if n_records <= most:
        return [np.arange(n_records)]
    bounds = np.r_[g.starts, n_records]
    chunks, start = [], 0
    while start < n_records:
        end = int(bounds[np.searchsorted(bounds, start + most, side="right") - 1])
        if end <= start:  # one round larger than a chunk
            end = int(bounds[np.searchsorted(bounds, start, side="right")])
        chunks.append(g.order[start:end])
        start = end
    return chunks


def _take(cols: ClientRounds, idx: np.ndarray) -> ClientRounds:
    """The client-rounds at ``idx`` (in that order), with their batches."""
    pos = np.full(len(cols), -1, dtype=np.int64)
    pos[idx] = np.arange(len(idx))
    keep = pos[cols.batch_record] >= 0
    if len(idx) and idx[-1] - idx[0] + 1 == len(idx) and (np.diff(idx) == 1).all():
        idx = slice(int(idx[0]), int(idx[-1]) + 1)  # records in file order (rounds written in turn): views
    return ClientRounds(
        rounds=cols.rounds[idx], client_ids=cols.client_ids[idx], steps=cols.steps[idx], fd=cols.fd[idx],
        fs=cols.fs[idx], bytes_down=cols.bytes_down[idx], bytes_up=cols.bytes_up[idx],
        bytes_up_dense=cols.bytes_up_dense[idx], batch_sizes=cols.batch_sizes,
        batch_record=pos[cols.batch_record[keep]], batch_index=cols.batch_index[keep],
        batch_count=cols.batch_count[keep])


def price_population(step: StepProfile, cols: ClientRounds, costing: Costing, *, seed: int = 0,
                     row_exact: bool = False, memory: MemoryEstimate | None = None
                     ) -> tuple[tuple[DeviceEstimate, ...], dict[str, Any] | None]:
    """Every device (all clients on it) and the mix (clients assigned) over all client-rounds.

    Records are priced in chunks of whole rounds (:func:`_round_chunks`), so the (devices,
    records) cost arrays stay bounded however long the trace; the per-round tables of the chunks
    are joined before the totals are summed.
    """
    g = _Rounds.of(cols.rounds)
    mem = memory if memory is not None else step.memory_at(cols.max_batch or (step.reference_batch or 1.0))
    entries: list[DeviceEstimate] = []
    mix_json = None

    def tables(profiles: Sequence[DeviceProfile], rows: Callable[[np.ndarray, DeviceArrays],
                                                                 Sequence[tuple[np.ndarray | int, Any]]]
               ) -> list[dict[str, np.ndarray]]:
        """Per-round tables of each (row, idle power) that ``rows`` picks, chunk by chunk, joined."""
        dev = DeviceArrays.of(profiles)
        chunks = _round_chunks(g, len(cols), len(profiles))
        parts: list[list[dict[str, np.ndarray]]] = []
        for idx in chunks:
            sub = cols if len(chunks) == 1 else _take(cols, idx)
            sub_g = g if len(chunks) == 1 else _Rounds.of(sub.rounds)
            c = price_client_rounds(step, sub, dev, costing.network, row_exact=row_exact)
            parts.append([_summaries(c, row, sub_g, idle) for row, idle in rows(idx, dev)])
            del c
        if len(parts) == 1:
            return parts[0]
        return [{k: np.concatenate([p[j][k] for p in parts]) for k in parts[0][j]} for j in range(len(parts[0]))]

    if costing.devices:
        per_device = tables(costing.devices, lambda idx, dev: [(i, p.idle_power_w)
                                                                for i, p in enumerate(costing.devices)])
        for p, table in zip(costing.devices, per_device):
            entries.append(DeviceEstimate(p.name, "device", g.ids, g.counts, table, _total(table),
                                          (MemoryCheck(mem, p.ram_bytes),)))
    if costing.mix is not None:
        mix = costing.mix
        ids = np.unique(cols.client_ids)
        labels = mix.assign(ids, seed)
        row = labels[np.searchsorted(ids, cols.client_ids)]
        (table,) = tables(mix.profiles, lambda idx, dev: [(row[idx], dev.idle_w[row[idx]])])
        entries.append(DeviceEstimate(mix.name, "mix", g.ids, g.counts, table, _total(table),
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
