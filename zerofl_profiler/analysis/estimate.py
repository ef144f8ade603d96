"""What-if costing: a recorded run (or a trace-less workload) re-costed on catalogue devices.

``estimate_run(run, costing)`` prices every ok client-round record of a run on each device (and
on a device mix), vectorized over records with numpy: per record the layer-by-layer roofline of
one step (RUN_DIR/layers.json) is scaled, phase by phase, to the client's actual FLOPs, and the
record's measured density per phase (F_sparse / F_dense) sets the sparse time
``t_dense x (1 - e x (1 - d))``; without layers.json the per-phase totals are priced compute-only
(``basis`` in the output says which). ``compare_workload`` does the same for one client-round
built from `flops --json` documents, layer by layer (exact per-row densities).
Equations: :mod:`zerofl_profiler.hardware_models.cost`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import BadInputError
from ..hardware_models.catalogue import get_network, resolve_device, resolve_device_file
from ..hardware_models.cost import (
    PHASES,
    DeviceArrays,
    MemoryEstimate,
    comm_cost,
    compute_energy,
    density_of,
    roofline,
    sparse_factor,
)
from ..hardware_models.population import DeviceMix, parse_mix
from ..hardware_models.spec import DeviceProfile, NetworkSpec
from .workload import StepProfile, from_layers, from_totals


# ----------------------------------------------------------------------------------------------
# what to cost on


@dataclass(frozen=True)
class Costing:
    """Resolved devices, network and optional device mix (what every costing command prices on)."""

    devices: tuple[DeviceProfile, ...]
    network: NetworkSpec | None = None
    mix: DeviceMix | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"devices": [d.name for d in self.devices],
                "network": self.network.name if self.network else None,
                "mix": self.mix.to_json() if self.mix else None}


def resolve_costing(sel: Any) -> Costing:
    """Turn a CostingSelection (names and files as typed) into device profiles and a network."""
    profiles: list[DeviceProfile] = []
    for name in getattr(sel, "devices", ()):
        profiles.append(resolve_device(name))
    for path in getattr(sel, "device_files", ()):
        profiles.extend(resolve_device_file(path))
    seen: set[str] = set()
    unique = [p for p in profiles if not (p.name in seen or seen.add(p.name))]  # type: ignore[func-returns-value]
    mix = parse_mix(sel.device_mix, resolve_device) if getattr(sel, "device_mix", None) else None
    if not unique and mix is None:
        raise BadInputError("nothing to cost on: give --device NAME, --device-file FILE.toml or --device-mix")
    net = get_network(sel.network) if getattr(sel, "network", None) else None
    return Costing(tuple(unique), net, mix)


# ----------------------------------------------------------------------------------------------
# the vectorized core


@dataclass(frozen=True)
class RecordCosts:
    """Per device (rows) and record (columns): compute and communication, sparse and dense."""

    compute_s: np.ndarray
    comm_s: np.ndarray
    compute_energy_j: np.ndarray
    comm_energy_j: np.ndarray
    dense_compute_s: np.ndarray
    dense_comm_s: np.ndarray
    dense_compute_energy_j: np.ndarray
    dense_comm_energy_j: np.ndarray
    topk_s: np.ndarray

    @property
    def time_s(self) -> np.ndarray:
        """Client-round time: download + compute + upload."""
        return self.compute_s + self.comm_s

    @property
    def energy_j(self) -> np.ndarray:
        """Client-round energy: compute + communication."""
        return self.compute_energy_j + self.comm_energy_j

    @property
    def dense_time_s(self) -> np.ndarray:
        """The same client-round without sparsity."""
        return self.dense_compute_s + self.dense_comm_s

    @property
    def dense_energy_j(self) -> np.ndarray:
        """The same client-round energy without sparsity."""
        return self.dense_compute_energy_j + self.dense_comm_energy_j


def topk_step_time(step: StepProfile, dev: DeviceArrays) -> np.ndarray:
    """Top-k mask time (D,) of one sparse step: roofline of its rows + their kernel overheads."""
    if len(step.topk_flops) == 0:
        return np.zeros(len(dev.names))
    roof = roofline(step.topk_flops, step.topk_bytes, step.topk_classes, dev).sum(axis=1)
    return roof + float(step.topk_kernels.sum()) * dev.overhead


def cost_records(step: StepProfile, dev: DeviceArrays, flops_dense: np.ndarray, flops_sparse: np.ndarray,
                 steps: np.ndarray, bytes_down: np.ndarray, bytes_up: np.ndarray,
                 bytes_up_dense: np.ndarray, net: NetworkSpec | None, *, row_exact: bool = False) -> RecordCosts:
    """Price N records (per-phase FLOPs (N, 5), steps (N,), bytes (N,)) on D devices at once."""
    fd = np.asarray(flops_dense, dtype=np.float64)
    fs = np.asarray(flops_sparse, dtype=np.float64)
    steps = np.asarray(steps, dtype=np.float64)
    roof = roofline(step.flops_dense, step.nbytes, step.row_class, dev)  # (D, R)
    r_phase = step.phase_sum(roof)  # (D, P) seconds of one step per phase
    step_f = step.dense_phase_flops  # (P,)
    scale = np.where(step_f[None, :] > 0, fd / np.where(step_f > 0, step_f, 1.0)[None, :], steps[:, None])
    is_sparse = (fs.sum(axis=1) < fd.sum(axis=1)).astype(np.float64)
    # one matmul per variant: per-phase roofline seconds, then kernel overheads, then top-k, against
    # the per-record scales [phase scales, steps, steps if sparse]
    x = np.concatenate([scale, steps[:, None], (steps * is_sparse)[:, None]], axis=1)  # (N, P + 2)
    k_o = float(step.kernels.sum()) * dev.overhead
    zeros = np.zeros(len(dev.names))
    compute_dense = np.concatenate([r_phase, k_o[:, None], zeros[:, None]], axis=1) @ x.T  # (D, N)
    topk_t = topk_step_time(step, dev)
    if row_exact:
        d_row = density_of(step.flops_sparse, step.flops_dense)
        r_sparse_phase = step.phase_sum(roof * sparse_factor(d_row[None, :], dev.sparse_eff[:, None]))
        compute_sparse = np.concatenate([r_sparse_phase, k_o[:, None], topk_t[:, None]], axis=1) @ x.T
    else:
        dens = density_of(fs, fd)  # (N, P)
        compute_sparse = np.concatenate([r_phase, k_o[:, None], topk_t[:, None]], axis=1) @ x.T
        compute_sparse -= dev.sparse_eff[:, None] * (r_phase @ (scale * (1.0 - dens)).T)
    topk = topk_t[:, None] * (steps * is_sparse)[None, :]
    bytes_phase = step.phase_sum(step.nbytes)  # (P,)
    rec_bytes = scale @ bytes_phase  # (N,)
    topk_flops = float(step.topk_flops.sum()) * steps * is_sparse
    topk_bytes = float(step.topk_bytes.sum()) * steps * is_sparse
    e_dense = compute_energy(compute_dense, fd.sum(axis=1), rec_bytes, dev)
    e_sparse = compute_energy(compute_sparse, fs.sum(axis=1) + topk_flops, rec_bytes + topk_bytes, dev)
    idle = dev.idle_w[:, None]
    comm = comm_cost(np.asarray(bytes_down)[None, :], np.asarray(bytes_up)[None, :], compute_sparse, net, idle)
    comm_d = comm_cost(np.asarray(bytes_down)[None, :], np.asarray(bytes_up_dense)[None, :], compute_dense, net,
                       idle)
    return RecordCosts(compute_sparse, comm.time_s, e_sparse, comm.energy_j, compute_dense, comm_d.time_s,
                       e_dense, comm_d.energy_j, topk)


# ----------------------------------------------------------------------------------------------
# results


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


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
    """A run re-costed on one device (or a device mix): per round (arrays) and in total."""

    device: str
    kind: str
    round_ids: np.ndarray
    round_clients: np.ndarray
    round_table: Mapping[str, np.ndarray]
    total: CostSummary
    memory: tuple[MemoryCheck, ...]

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

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (the `estimate --json` document)."""
        return {"run_id": self.run_id, "basis": self.basis, "network": self.network, "records": self.records,
                "skipped_failed": self.skipped_failed, "notes": list(self.notes),
                "waiting_clients": "idle power of clients waiting for the straggler is reported as "
                                   "wait_energy_j and not included in energy_j",
                "mix": self.mix, "devices": [d.to_json() for d in self.devices]}


# ----------------------------------------------------------------------------------------------
# estimate_run


@dataclass(frozen=True)
class RecordColumns:
    """The ok client-round records as numpy columns (what the vectorized estimator consumes)."""

    rounds: np.ndarray
    client_ids: np.ndarray
    steps: np.ndarray
    fd: np.ndarray  # (N, len(PHASES)) dense FLOPs
    fs: np.ndarray  # (N, len(PHASES)) sparse FLOPs
    bytes_down: np.ndarray
    bytes_up: np.ndarray
    bytes_up_dense: np.ndarray


#: The trace columns the costing reads (``traces.load_run(path, fields=RECORD_FIELDS)``).
RECORD_FIELDS = ("round", "client_id", "status", "steps", "flops_dense", "flops_sparse", "bytes_down", "bytes_up",
                 "bytes_up_dense")


def records_from_columns(cols: Any) -> RecordColumns:
    """The costing's view of trace columns (traces.ClientColumns): no per-record work."""
    n_phases = len(PHASES)
    return RecordColumns(rounds=cols.round, client_ids=cols.client_id, steps=cols.steps,
                         fd=cols.flops_dense[:, :n_phases], fs=cols.flops_sparse[:, :n_phases],
                         bytes_down=cols.bytes_down, bytes_up=cols.bytes_up, bytes_up_dense=cols.bytes_up_dense)


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


def _config_int(config: Mapping[str, Any], key: str, default: int) -> int:
    """A key from config.toml at top level or one table down."""
    if key in config and isinstance(config[key], int):
        return int(config[key])
    for v in config.values():
        if isinstance(v, Mapping) and isinstance(v.get(key), int):
            return int(v[key])
    return default


#: Devices x records priced in one go (each cost array of a batch is at most this many floats).
PRICE_BATCH_ELEMENTS = 1 << 22


def estimate_columns(recs: RecordColumns, step: StepProfile, costing: Costing, *,
                     seed: int = 0) -> tuple[tuple[DeviceEstimate, ...], dict[str, Any] | None]:
    """The vectorized estimator: every device (and the mix) over all record columns at once."""
    g = _Rounds.of(recs.rounds)
    entries: list[DeviceEstimate] = []
    mix_json = None

    def price(profiles: Sequence[DeviceProfile]) -> tuple[DeviceArrays, RecordCosts]:
        dev = DeviceArrays.of(profiles)
        return dev, cost_records(step, dev, recs.fd, recs.fs, recs.steps, recs.bytes_down, recs.bytes_up,
                                 recs.bytes_up_dense, costing.network)

    batch = max(1, PRICE_BATCH_ELEMENTS // max(len(recs.steps), 1))
    for k in range(0, len(costing.devices), batch):  # bounded (devices x records) cost arrays
        group = costing.devices[k:k + batch]
        _, c = price(group)
        for i, p in enumerate(group):
            table, total = _summaries(c, i, g, p.idle_power_w)
            entries.append(DeviceEstimate(p.name, "device", g.ids, g.counts, table, total,
                                          (MemoryCheck(step.memory, p.ram_bytes),)))
        del c
    if costing.mix is not None:
        mix = costing.mix
        dev, c = price(mix.profiles)
        ids = np.unique(recs.client_ids)
        labels = mix.assign(ids, seed)
        row = labels[np.searchsorted(ids, recs.client_ids)]
        table, total = _summaries(c, row, g, dev.idle_w[row])
        entries.append(DeviceEstimate(mix.name, "mix", g.ids, g.counts, table, total,
                                      tuple(MemoryCheck(step.memory, p.ram_bytes) for p in mix.profiles)))
        mix_json = {**mix.to_json(), "seed": seed,
                    "assignment": {str(int(k)): mix.profiles[int(v)].name for k, v in zip(ids, labels)}}
    return tuple(entries), mix_json


def run_step_profile(run: Any) -> StepProfile:
    """One training step of the run, from layers.json (else per-phase totals only)."""
    mask_every = _config_int(run.config, "mask_every", 1)
    return from_layers(run.layers, mask_every=mask_every) if run.layers is not None else from_totals()


def estimate_run(run: Any, costing: Costing, *, seed: int | None = None) -> RunEstimate:
    """Re-cost a recorded run (traces.RunData) on every device of ``costing`` (and its mix)."""
    ok = run.columns.select(run.columns.ok)
    failed = len(run.columns) - len(ok)
    if not len(ok):
        raise BadInputError(f"{run.path}: no successful client-round records to cost")
    step = run_step_profile(run)
    mix_seed = seed if seed is not None else _config_int(run.config, "seed", 0)
    entries, mix_json = estimate_columns(records_from_columns(ok), step, costing, seed=mix_seed)
    notes = list(step.notes)
    if failed:
        notes.append(f"{failed} failed client-round record(s) not costed")
    if step.memory is None:
        notes.append("memory check skipped: layers.json gives no weight sizes")
    return RunEstimate(run.run_id, step.basis, costing.network.name if costing.network else None, len(ok),
                       failed, entries, tuple(notes), mix_json)


# ----------------------------------------------------------------------------------------------
# compare_workload (trace-less what-if)


@dataclass(frozen=True)
class WorkloadPoint:
    """One (device, sparsity) client-round of the what-if."""

    device: str
    sparsity: float
    cost: CostSummary
    memory: MemoryCheck
    bytes_up: float
    bytes_down: float

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = {"sparsity": self.sparsity, **self.cost.to_json(), "bytes_up": self.bytes_up,
             "bytes_down": self.bytes_down, "memory_fits": self.memory.fits}
        d.pop("wait_energy_j")
        return d


@dataclass(frozen=True)
class CompareResult:
    """The `compare` table: per device, per sparsity, one client-round."""

    steps: int
    network: str | None
    points: tuple[WorkloadPoint, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    mix: dict[str, Any] | None = None
    workload: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict grouped by device."""
        devices: dict[str, list[dict[str, Any]]] = {}
        mem: dict[str, Any] = {}
        for p in self.points:
            devices.setdefault(p.device, []).append(p.to_json())
            mem[p.device] = p.memory.to_json()
        return {"workload": self.workload, "steps": self.steps, "network": self.network,
                "notes": list(self.notes), "mix": self.mix,
                "devices": [{"device": k, "memory": mem[k], "results": v} for k, v in devices.items()]}


def compare_workload(reports: Mapping[float, Mapping[str, Any]], steps: int, costing: Costing, *,
                     bytes_down: float = 0.0, bytes_up: Mapping[float, float] | None = None,
                     bytes_up_dense: float | None = None, memory: MemoryEstimate | None = None,
                     workload: Mapping[str, Any] | None = None) -> CompareResult:
    """Cost one client-round of ``steps`` steps per sparsity (reports: sparsity -> flops --json doc)."""
    if steps <= 0:
        raise BadInputError(f"--steps must be positive, got {steps}")
    points: list[WorkloadPoint] = []
    notes: list[str] = []
    profiles = list(costing.devices) + (list(costing.mix.profiles) if costing.mix else [])
    seen: set[str] = set()
    profiles = [p for p in profiles if not (p.name in seen or seen.add(p.name))]  # type: ignore[func-returns-value]
    dev = DeviceArrays.of(profiles)
    per_sparsity: dict[float, RecordCosts] = {}
    up_of: dict[float, float] = {}
    for sp, doc in reports.items():
        step = from_layers(doc)
        if step.notes and step.notes[0] not in notes:
            notes.extend(n for n in step.notes if n not in notes)
        fd = (step.dense_phase_flops * steps)[None, :]
        fs = (step.sparse_phase_flops * steps)[None, :]
        up = float((bytes_up or {}).get(sp, bytes_up_dense or 0.0))
        upd = float(bytes_up_dense if bytes_up_dense is not None else up)
        c = cost_records(step, dev, fd, fs, np.array([float(steps)]), np.array([float(bytes_down)]),
                         np.array([up]), np.array([upd]), costing.network, row_exact=True)
        per_sparsity[sp] = c
        up_of[sp] = up
        mem = memory if memory is not None else step.memory
        for i, p in enumerate(profiles):
            if p.name not in {d.name for d in costing.devices}:
                continue
            points.append(WorkloadPoint(p.name, float(sp), _single(c, i), MemoryCheck(mem, p.ram_bytes), up,
                                        float(bytes_down)))
    mix_json = None
    if costing.mix is not None:
        mix = costing.mix
        idx = [profiles.index(p) for p in mix.profiles]
        shares = np.array(mix.shares)
        for sp, c in per_sparsity.items():
            rows = [_single(c, i) for i in idx]
            # the straggler sets the time; energy is the share-weighted mean per client
            slow = max(range(len(rows)), key=lambda k: rows[k].time_s)
            slow_d = max(range(len(rows)), key=lambda k: rows[k].dense_time_s)

            def wmean(f: str) -> float:
                return float(sum(s * getattr(r, f) for s, r in zip(shares, rows)))

            cs = CostSummary(rows[slow].time_s, rows[slow].compute_s, rows[slow].comm_s, wmean("energy_j"),
                             wmean("compute_energy_j"), wmean("comm_energy_j"), 0.0, rows[slow_d].dense_time_s,
                             rows[slow_d].dense_compute_s, rows[slow_d].dense_comm_s, wmean("dense_energy_j"))
            mem = memory if memory is not None else from_layers(reports[sp]).memory
            fits = [MemoryCheck(mem, p.ram_bytes) for p in mix.profiles]
            worst = min(fits, key=lambda m: m.ram_bytes)
            points.append(WorkloadPoint(mix.name, float(sp), cs, worst, up_of[sp], float(bytes_down)))
        mix_json = {**mix.to_json(), "rule": "time = the slowest device of the mix (the straggler); "
                                             "energy = share-weighted mean per client-round"}
    return CompareResult(steps, costing.network.name if costing.network else None, tuple(points), tuple(notes),
                         mix_json, dict(workload or {}))


def _single(c: RecordCosts, i: int) -> CostSummary:
    return CostSummary(float(c.time_s[i, 0]), float(c.compute_s[i, 0]), float(c.comm_s[i, 0]),
                       float(c.energy_j[i, 0]), float(c.compute_energy_j[i, 0]), float(c.comm_energy_j[i, 0]), 0.0,
                       float(c.dense_time_s[i, 0]), float(c.dense_compute_s[i, 0]), float(c.dense_comm_s[i, 0]),
                       float(c.dense_energy_j[i, 0]))
