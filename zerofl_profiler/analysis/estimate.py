"""A recorded run re-costed on devices: the run-level orchestration over :mod:`~zerofl_profiler.hardware_models`.

``estimate_run(run, costing)`` reads the run's ok client-round records into columns (with the
batches each one ran), its layers.json into a step profile, and hands both to costing
(:func:`hardware_models.rounds.price_population`); everything priced lives in hardware_models.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import BadInputError
from ..hardware_models.records import PHASES
from ..hardware_models.results import (
    CompareResult,
    CostSummary,
    DeviceEstimate,
    MemoryCheck,
    RoundCost,
    RunEstimate,
    WorkloadPoint,
)
from ..hardware_models.pricing import dense_kernel_notes
from ..hardware_models.rounds import compare_workload, price_population
from ..hardware_models.selection import Costing, resolve_costing
from ..hardware_models.workload import ClientRounds, batch_triplets, from_layers, from_totals
from ..traces.run import RunData
from ..traces.schema import FLOP_BLOCK_KEYS
from ..vocab import GEMM_PHASES
from .measured import MEASURED_FIELDS, CalibrationCheck, EstimatedTotals, MeasuredRun, calibration_check

__all__ = ["CompareResult", "CostSummary", "Costing", "DeviceEstimate", "MemoryCheck", "RoundCost", "RunEstimate",
           "RECORD_FIELDS", "CHECK_FIELDS", "check_against_run", "estimated_totals", "WorkloadPoint", "compare_workload", "estimate_run", "records_from_columns", "records_from_trace",
           "resolve_costing"]


def records_from_trace(records: Sequence[Any], default_batch: float = 1.0) -> ClientRounds:
    """Columns of client-round records (the only per-record Python loop).

    A record without ``batch_sizes`` is taken to have run ``steps`` batches of ``default_batch``.
    """
    n = len(records)
    fd = np.empty((n, len(PHASES)))
    fs = np.empty((n, len(PHASES)))
    batches: list[Sequence[float]] = []
    for i, r in enumerate(records):
        d, s = r.flops["dense"], r.flops["sparse"]
        fd[i] = [d[p] for p in PHASES]
        fs[i] = [s[p] for p in PHASES]
        bs = getattr(r, "batch_sizes", None)
        batches.append(bs if bs else [default_batch] * int(r.steps))
    sizes, rec, idx, cnt = batch_triplets(batches)
    return ClientRounds(
        rounds=np.fromiter((r.round for r in records), dtype=np.int64, count=n),
        client_ids=np.fromiter((r.client_id for r in records), dtype=np.int64, count=n),
        steps=np.fromiter((r.steps for r in records), dtype=np.float64, count=n), fd=fd, fs=fs,
        bytes_down=np.fromiter((r.bytes_down for r in records), dtype=np.float64, count=n),
        bytes_up=np.fromiter((r.bytes_up for r in records), dtype=np.float64, count=n),
        bytes_up_dense=np.fromiter((r.bytes_up_dense for r in records), dtype=np.float64, count=n),
        batch_sizes=sizes, batch_record=rec, batch_index=idx, batch_count=cnt)


#: The trace columns the costing reads (``traces.load_run(path, fields=RECORD_FIELDS)`` builds only these).
RECORD_FIELDS = ("round", "client_id", "status", "steps", "flops_dense", "flops_sparse", "bytes_down", "bytes_up",
                 "bytes_up_dense", "batch_sizes")
#: RECORD_FIELDS plus what the measured side of ``check_against_run`` reads.
CHECK_FIELDS = tuple(dict.fromkeys(RECORD_FIELDS + MEASURED_FIELDS))


def records_from_columns(cols: Any, default_batch: float = 1.0) -> ClientRounds:
    """The costing's columns straight from the trace's columns (no per-record Python loop).

    A record without ``batch_sizes`` is taken to have run ``steps`` batches of ``default_batch``.
    """
    n = len(cols)
    take = [FLOP_BLOCK_KEYS.index(p) for p in PHASES]
    assert take == list(range(len(PHASES)))  # the phases lead the FLOP block: a view, no copy
    rec = cols.batch_record if cols.batch_record is not None else np.zeros(0, dtype=np.int64)
    size = cols.batch_size if cols.batch_size is not None else np.zeros(0)
    cnt = cols.batch_count if cols.batch_count is not None else np.zeros(0, dtype=np.int64)
    ran = np.zeros(n, dtype=bool)
    ran[rec] = True
    missing = np.flatnonzero(~ran)  # records that ran no batch list: steps x the nominal batch
    if len(missing):
        rec = np.concatenate([rec, missing])
        size = np.concatenate([np.asarray(size, dtype=np.float64), np.full(len(missing), float(default_batch))])
        cnt = np.concatenate([cnt, np.asarray(cols.steps, dtype=np.int64)[missing]])
        order = np.lexsort((size, rec))
        rec, size, cnt = rec[order], size[order], cnt[order]
    keep = cnt > 0
    if not keep.all():
        rec, size, cnt = rec[keep], size[keep], cnt[keep]
    sizes, idx = _distinct(size)
    return ClientRounds(  # the trace's own arrays (views): the costing reads the columns without a second copy
        rounds=cols.round, client_ids=cols.client_id, steps=cols.steps,
        fd=cols.flops_dense[:, :len(PHASES)], fs=cols.flops_sparse[:, :len(PHASES)],
        bytes_down=cols.bytes_down, bytes_up=cols.bytes_up, bytes_up_dense=cols.bytes_up_dense,
        batch_sizes=sizes, batch_record=rec, batch_index=idx.reshape(-1), batch_count=cnt)


def _distinct(size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each value among them): np.unique's answer, in linear time
    for the small whole numbers batch sizes are."""
    whole = size if size.dtype.kind in "iu" else size.astype(np.int64)
    if len(size) and (size.dtype.kind in "iu" or (whole == size).all()) and whole.min() >= 0 and whole.max() <= 10**7:
        present = np.bincount(whole) > 0
        return np.flatnonzero(present).astype(np.float64), (np.cumsum(present) - 1)[whole]
    sizes, idx = np.unique(np.asarray(size, dtype=np.float64), return_inverse=True)
    return sizes, idx.reshape(-1)


def run_step_profile(run: RunData) -> Any:
    """The step profile a run is priced from: its layers.json, else its per-phase totals."""
    cfg = run.config
    mask_every = cfg.mask_every if cfg is not None else 1
    return from_layers(run.layers, mask_every=mask_every) if run.layers is not None else from_totals()


def gemm_densities(cols: ClientRounds) -> list[float]:
    """The median sparse/dense FLOP ratio of each GEMM phase over the records: the densities a run is priced at."""
    out = []
    for p, name in enumerate(PHASES):
        if name in GEMM_PHASES:
            fd, fs = np.asarray(cols.fd[:, p], dtype=np.float64), np.asarray(cols.fs[:, p], dtype=np.float64)
            ok = fd > 0
            if ok.any():
                out.append(round(float(np.median(fs[ok] / fd[ok])), 4))
    return out


def estimate_run(run: RunData, costing: Costing, *, seed: int | None = None) -> RunEstimate:
    """Re-cost a recorded run (traces.RunData) on every device of ``costing`` (and its mix)."""
    ok_rows = run.columns.ok
    n_ok = int(ok_rows.sum())
    failed = len(run.columns) - n_ok
    if not n_ok:
        raise BadInputError(f"{run.path}: no successful client-round records to cost")
    cfg = run.config
    step = run_step_profile(run)
    mix_seed = seed if seed is not None else (cfg.seed if cfg is not None else 0)
    cols = records_from_columns(run.columns.select(ok_rows),
                                step.reference_batch or float(cfg.batch_size if cfg is not None else 1))
    entries, mix_json = price_population(step, cols, costing, seed=mix_seed)
    notes = list(step.notes)
    if step.reference_batch and cols.max_batch and any(b != step.reference_batch for b in cols.batch_sizes):
        notes.append(f"priced from the batches that ran ({', '.join(f'{b:g}' for b in cols.batch_sizes)}); "
                     f"layers.json counts batch {step.reference_batch:g}")
    if failed:
        notes.append(f"{failed} failed client-round record(s) not costed")
    if step.memory is None:
        notes.append("memory check skipped: layers.json gives no weight sizes")
    profiles = list(costing.devices) + (list(costing.mix.profiles) if costing.mix is not None else [])
    if any(p.sparse_curve is not None for p in profiles):  # only a curve can say the dense kernel wins
        notes.extend(dense_kernel_notes(profiles, gemm_densities(cols)))
    return RunEstimate(run.run_id, step.basis, costing.network.name if costing.network else None, n_ok,
                       failed, entries, tuple(notes), mix_json, costing.assumptions())


def estimated_totals(est: RunEstimate) -> dict[str, EstimatedTotals]:
    """Each costed device's totals on the basis the run measured (compute only; see analysis.measured)."""
    out = {}
    for d in est.devices:
        mem = d.worst_memory.estimate if d.memory else None
        out[d.device] = EstimatedTotals(float(d.total.compute_s), float(d.total.compute_energy_j),
                                        None if mem is None else float(mem.total_bytes))
    return out


def check_against_run(run: RunData, est: RunEstimate, measured_as: str | None = None) -> CalibrationCheck:
    """The run's measured time, energy and peak memory beside the estimate of its own device."""
    return calibration_check(MeasuredRun.of(run), estimated_totals(est), measured_as)
