"""What a recorded run cost and achieved, in one frozen record per run (pure; no plotting, no I/O).

Every report table and figure reads these records, so a number shown anywhere has one definition:

- FLOPs per client-round: the mean over successful client-round records of ``flops.dense`` and
  ``flops.sparse`` (by phase, FLOP_KEYS). ``flop_reduction = dense.total / sparse.total`` (a ratio
  >= 1; time belongs to the device models).
- Bytes per client-round: the mean of ``bytes_up`` / ``bytes_up_dense`` / ``bytes_down``;
  ``upload_saving = 1 - bytes_up / bytes_up_dense`` over the whole run.
- Measured energy: the sum of the client records' ``energy.total_j``; reported only when every
  successful record was measured (else ``None`` with the coverage), with its source. Estimates from
  the trace (``energy_estimate``) are kept apart and labelled.
- Time/energy to a target accuracy: cumulative over rounds up to and including the first round whose
  test accuracy reaches the target (round wall time; client energy).
- Measured peak memory: the distribution (min / median / max) of the successful records'
  ``peak_mem_bytes`` with their ``mem_source`` (``analysis.measured.MemoryDistribution``), and the
  device the run trained on (``analysis.measured.RunDevice``, from config.toml's fingerprint).
- The costliest layers come from ``layers.json`` (one training step at the configured sparsity),
  one per module path (its rows summed), ranked by sparse FLOPs (what the run pays).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..config import RunConfig
from ..errors import BadInputError, check_fraction
from ..traces.layers import LayersDoc
from ..traces.run import RunData
from ..traces.schema import ClientRoundRecord
from ..vocab import FLOP_KEYS, GEMM_CLASSES, GEMM_PHASES
from .measured import MemoryDistribution, RunDevice

#: RunConfig options shown in the report's configuration block, in this order (None values left out).
CONFIG_KEYS = ("model", "dataset", "rounds", "clients", "clients_per_round", "local_epochs", "batch_size",
               "sparsity", "activation_sparsity", "upload", "encoding", "mask_ratio", "partition",
               "alpha", "lr_start", "lr_end", "seed", "engine")


@dataclass(frozen=True)
class PhaseFlops:
    """Mean FLOPs of one client-round by phase (FLOP_KEYS order).

    ``extra`` keeps keys an engine records beyond FLOP_KEYS (e.g. ``topk``, the mask selection),
    which are not part of ``total``; they are shown, never dropped.
    """

    forward: float
    backward_input: float
    backward_weight: float
    elementwise: float
    optimizer: float
    total: float
    extra: tuple[tuple[str, float], ...] = ()

    @staticmethod
    def mean_of(blocks: Sequence[Mapping[str, int]]) -> "PhaseFlops":
        """The per-key mean of several trace FLOP blocks (zeros when there are none)."""
        n = len(blocks)
        vals = {k: (sum(float(b[k]) for b in blocks) / n if n else 0.0) for k in FLOP_KEYS}
        others = sorted({k for b in blocks for k in b} - set(FLOP_KEYS))
        extra = tuple((k, sum(float(b.get(k, 0)) for b in blocks) / n) for k in others)
        return PhaseFlops(**vals, extra=extra)

    def as_dict(self) -> dict[str, float]:
        """Phase -> FLOPs, in FLOP_KEYS order."""
        return {k: getattr(self, k) for k in FLOP_KEYS}


@dataclass(frozen=True)
class LayerCost:
    """One module of layers.json (its rows summed): FLOPs of one step, dense and sparse, per GEMM phase.

    ``label`` is the module path (``layer1.0.conv1``; a bare index such as ``3`` inside a
    Sequential); ``type`` joins the row types of that module (``Conv2d+bias_add``).
    """

    name: str
    type: str
    dense: tuple[float, float, float]
    sparse: tuple[float, float, float]
    label: str = ""
    gemm: bool = False

    @property
    def dense_total(self) -> float:
        """Dense FLOPs of the step summed over phases."""
        return float(sum(self.dense))

    @property
    def sparse_total(self) -> float:
        """Sparse FLOPs of the step summed over phases."""
        return float(sum(self.sparse))


@dataclass(frozen=True)
class RoundPoint:
    """One round as the figures see it (client sums over the round's successful records)."""

    round: int
    test_accuracy: float | None
    clients: int
    bytes_up: int
    bytes_up_dense: int
    bytes_down: int
    round_wall_time_s: float | None
    client_wall_time_s: float
    energy_j: float | None
    energy_estimate_j: float | None
    flops_dense: float
    flops_sparse: float


@dataclass(frozen=True)
class EnergySummary:
    """Measured energy of all client-rounds, with where it came from and how much was covered."""

    source: str
    method: str
    total_j: float | None
    per_client_round_j: float | None
    measured_records: int
    records: int
    estimate_total_j: float | None = None
    estimate_method: str | None = None
    estimate_basis: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetReach:
    """When a run first reached a target accuracy, and what getting there cost (measured)."""

    target: float
    round: int | None
    time_s: float | None
    energy_j: float | None
    energy_source: str
    energy_estimate_j: float | None = None

    @property
    def reached(self) -> bool:
        """Whether any round reached the target."""
        return self.round is not None


@dataclass(frozen=True, repr=False)
class RunSummary:
    """Everything the reports and figures show about one run."""

    name: str
    run_id: str
    path: str
    config: tuple[tuple[str, Any], ...]
    weight_sparsity: float | None
    activation_sparsity: float | None
    upload: str | None
    encoding: str | None
    mask_ratio: float | None
    rounds_completed: int
    client_rounds: int
    failed_client_rounds: int
    final_accuracy: float | None
    best_accuracy: float | None
    best_round: int | None
    flops_dense: PhaseFlops
    flops_sparse: PhaseFlops
    flop_reduction: float | None
    bytes_up_mean: float
    bytes_up_dense_mean: float
    bytes_down_mean: float
    bytes_up_total: int
    bytes_up_dense_total: int
    bytes_down_total: int
    upload_saving: float | None
    wall_time_s: float | None
    client_wall_time_s: float
    client_cpu_time_s: float
    energy: EnergySummary
    top_layers: tuple[LayerCost, ...]
    layers: tuple[LayerCost, ...]
    rounds: tuple[RoundPoint, ...]
    target: TargetReach | None = None
    warnings: tuple[str, ...] = field(default=())
    memory: MemoryDistribution = field(default=MemoryDistribution("none", 0, 0))
    run_device: RunDevice = field(default=RunDevice("cpu", "cpu", False))


    def __repr__(self) -> str:
        """One line; the detail is in the fields and the report tables."""
        red = "n/a" if self.flop_reduction is None else f"{self.flop_reduction:.2f}x"
        acc = "n/a" if self.final_accuracy is None else f"{self.final_accuracy:.3f}"
        ws = "n/a" if self.weight_sparsity is None else f"{self.weight_sparsity:g}"
        return (f"RunSummary({self.name!r}, run_id={self.run_id!r}, weight_sparsity={ws}, "
                f"rounds={self.rounds_completed}, client_rounds={self.client_rounds}, final_accuracy={acc}, "
                f"flop_reduction={red})")


def summarize_run(run: RunData, *, target_accuracy: float | None = None, top_k: int = 5) -> RunSummary:
    """Reduce a loaded run directory to the figures a reader compares across runs."""
    if target_accuracy is not None:
        target_accuracy = check_fraction("target accuracy", target_accuracy, allow_one=True)
    ok = [c for c in run.clients if c.status == "ok"]
    if not run.clients:
        raise BadInputError(f"{run.path}: the trace holds no client-round records")
    warnings: list[str] = []
    dense = PhaseFlops.mean_of([c.flops["dense"] for c in ok])
    sparse = PhaseFlops.mean_of([c.flops["sparse"] for c in ok])
    n = len(ok)
    up = sum(c.bytes_up for c in ok)
    up_dense = sum(c.bytes_up_dense for c in ok)
    down = sum(c.bytes_down for c in ok)
    rounds = _round_points(run, ok)
    accs = [(p.round, p.test_accuracy) for p in rounds if p.test_accuracy is not None]
    best = max(accs, key=lambda ra: (ra[1], -ra[0])) if accs else None
    layers = _layers(run.layers)
    if run.layers is None:
        warnings.append("no layers.json: per-layer breakdown unavailable")
    ws, as_ = _sparsity(run)
    summary = RunSummary(
        name=run.name,
        run_id=run.run_id,
        path=str(run.path),
        config=_config_items(run.config),
        weight_sparsity=ws,
        activation_sparsity=as_,
        upload=run.config.upload if run.config else run.trace.upload,
        encoding=run.config.encoding if run.config else run.trace.encoding,
        mask_ratio=run.config.mask_ratio if run.config else None,
        rounds_completed=len(run.rounds) if run.rounds else len({c.round for c in run.clients}),
        client_rounds=len(run.clients),
        failed_client_rounds=len(run.clients) - n,
        final_accuracy=accs[-1][1] if accs else None,
        best_accuracy=best[1] if best else None,
        best_round=best[0] if best else None,
        flops_dense=dense,
        flops_sparse=sparse,
        flop_reduction=(dense.total / sparse.total) if sparse.total > 0 else None,
        bytes_up_mean=up / n if n else 0.0,
        bytes_up_dense_mean=up_dense / n if n else 0.0,
        bytes_down_mean=down / n if n else 0.0,
        bytes_up_total=up,
        bytes_up_dense_total=up_dense,
        bytes_down_total=down,
        upload_saving=(1.0 - up / up_dense) if up_dense > 0 else None,
        wall_time_s=(sum(r.round_wall_time_s for r in run.rounds) if run.rounds else None),
        client_wall_time_s=sum(c.wall_time_s for c in ok),
        client_cpu_time_s=sum(c.cpu_time_s for c in ok),
        energy=_energy(ok),
        top_layers=tuple(sorted(layers, key=lambda lc: (-lc.sparse_total, lc.label))[:top_k]),
        layers=tuple(layers),
        rounds=tuple(rounds),
        target=None,
        warnings=tuple(warnings),
        memory=MemoryDistribution.of(np.array([np.nan if c.peak_mem_bytes is None else float(c.peak_mem_bytes)
                                               for c in ok], dtype=np.float64),
                                     np.array([c.mem_source for c in ok], dtype=object)),
        run_device=RunDevice.of(run),
    )
    if target_accuracy is None:
        return summary
    from dataclasses import replace

    return replace(summary, target=time_to_target(summary, target_accuracy))


def time_to_target(summary: RunSummary, target: float) -> TargetReach:
    """Measured cumulative time and client energy up to the first round that reaches ``target``."""
    hit = next((p for p in summary.rounds if p.test_accuracy is not None and p.test_accuracy >= target), None)
    if hit is None:
        return TargetReach(target, None, None, None, summary.energy.source)
    upto = [p for p in summary.rounds if p.round <= hit.round]
    times = [p.round_wall_time_s for p in upto]
    energies = [p.energy_j for p in upto]
    estimates = [p.energy_estimate_j for p in upto]
    return TargetReach(
        target=target,
        round=hit.round,
        time_s=None if any(t is None for t in times) else float(sum(times)),  # type: ignore[arg-type]
        energy_j=None if any(e is None for e in energies) else float(sum(energies)),  # type: ignore[arg-type]
        energy_source=summary.energy.source,
        energy_estimate_j=None if any(e is None for e in estimates) else float(sum(estimates)),  # type: ignore[arg-type]
    )


# ----------------------------------------------------------------------------------------------
def _round_points(run: RunData, ok: list[ClientRoundRecord]) -> list[RoundPoint]:
    by_round: dict[int, list[ClientRoundRecord]] = {}
    for c in ok:
        by_round.setdefault(c.round, []).append(c)
    server = {r.round: r for r in run.rounds}
    out = []
    for rnd in sorted(set(by_round) | set(server)):
        cs = by_round.get(rnd, [])
        srv = server.get(rnd)
        measured = [c.energy.total_j for c in cs]
        est = [c.energy_estimate.total_j if c.energy_estimate else None for c in cs]
        out.append(RoundPoint(
            round=rnd,
            test_accuracy=srv.test_accuracy if srv else None,
            clients=len(cs),
            bytes_up=sum(c.bytes_up for c in cs),
            bytes_up_dense=sum(c.bytes_up_dense for c in cs),
            bytes_down=sum(c.bytes_down for c in cs),
            round_wall_time_s=srv.round_wall_time_s if srv else None,
            client_wall_time_s=sum(c.wall_time_s for c in cs),
            energy_j=_sum_all(measured),
            energy_estimate_j=_sum_all(est),
            flops_dense=float(sum(c.flops["dense"]["total"] for c in cs)),
            flops_sparse=float(sum(c.flops["sparse"]["total"] for c in cs)),
        ))
    return out


def _sum_all(values: Sequence[float | None]) -> float | None:
    """The sum when every value is known, else None (unknown is never 0 J)."""
    if not values or any(v is None for v in values):
        return None
    return float(sum(values))  # type: ignore[arg-type]


def _energy(ok: list[ClientRoundRecord]) -> EnergySummary:
    measured = [c for c in ok if c.energy.source != "none" and c.energy.total_j is not None]
    sources = sorted({c.energy.source for c in measured})
    methods = sorted({c.energy.method for c in measured})
    complete = bool(ok) and len(measured) == len(ok)
    total = float(sum(c.energy.total_j for c in measured)) if complete else None  # type: ignore[misc]
    ests = [c.energy_estimate for c in ok]
    est_total = _sum_all([e.total_j if e else None for e in ests])
    est_methods = sorted({e.method for e in ests if e})
    est_basis = sorted({f for e in ests if e for f in e.flags})
    return EnergySummary(
        source="+".join(sources) if sources else "none",
        method="+".join(methods) if methods else "none",
        total_j=total,
        per_client_round_j=(total / len(ok)) if total is not None else None,
        measured_records=len(measured),
        records=len(ok),
        estimate_total_j=est_total,
        estimate_method="+".join(est_methods) if est_methods else None,
        estimate_basis=tuple(est_basis),
    )


def _layers(doc: LayersDoc | None) -> list[LayerCost]:
    if doc is None:
        return []
    gemm: set[str] = set()
    by_name: dict[str, tuple[list[str], list[float], list[float]]] = {}
    for row in doc.layers:  # a module's rows (a conv and its bias addition) add up to one layer
        dense = [float(row.dense.get(k, 0.0)) for k in GEMM_PHASES]
        sparse = [float(row.sparse.get(k, 0.0)) for k in GEMM_PHASES]
        name = row.name
        types, dsum, ssum = by_name.setdefault(name, ([], [0.0] * len(GEMM_PHASES), [0.0] * len(GEMM_PHASES)))
        if row.op_class in GEMM_CLASSES:
            gemm.add(name)
        if row.type not in types and any(dense + sparse):  # rows that add nothing do not name the layer
            types.append(row.type)
        by_name[name] = (types, [a + b for a, b in zip(dsum, dense)], [a + b for a, b in zip(ssum, sparse)])
    return [LayerCost(name, "+".join(types), tuple(dsum), tuple(ssum), name, name in gemm)  # type: ignore[arg-type]
            for name, (types, dsum, ssum) in by_name.items()]


def _config_items(config: RunConfig | None) -> tuple[tuple[str, Any], ...]:
    if config is None:
        return ()
    items = [(k, getattr(config, k)) for k in CONFIG_KEYS]
    return tuple((k, list(v) if isinstance(v, tuple) else v) for k, v in items if v is not None)


def _sparsity(run: RunData) -> tuple[float | None, float | None]:
    """Configured weight/activation sparsity (config, else layers.json, else measured densities)."""
    if run.config is not None:
        return run.config.weight_sparsity, run.config.act_sparsity
    w = a = None
    if run.layers is not None:
        w, a = run.layers.weight_sparsity, run.layers.activation_sparsity
    if w is None:
        dens = [d.get("weight") for c in run.clients for d in c.densities.values()
                if isinstance(d, Mapping) and d.get("weight") is not None and float(d["weight"]) < 1.0]
        w = (1.0 - sum(dens) / len(dens)) if dens else 0.0 if run.clients else None
    return w, (a if a is not None else w)


