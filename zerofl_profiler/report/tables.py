"""The report's tables as plain rows of strings (rendered by every format through ``sections``).

Every row label or column header says how its numbers were obtained: ``measured`` (timers,
energy counters, encoded payloads), ``counted`` (the FLOP counter at the measured densities),
``configured``, or ``estimated`` (a device model, whose assumptions the report lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..analysis.comparison import DeviceCost
from ..analysis.measured import CalibrationCheck, MemoryDistribution
from ..analysis.summary import RunSummary
from ..traces.schema import FLOP_KEYS
from ..units import fmt_bytes, fmt_count, fmt_energy, fmt_flops, fmt_time


@dataclass(frozen=True)
class Table:
    """A titled table: header cells and rows of cells (all plain strings; renderers escape them)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {"title": self.title, "header": list(self.header), "rows": [list(r) for r in self.rows]}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"


def _opt(fmt: Callable[[float], str], x: float | None) -> str:
    return "n/a" if x is None else fmt(x)


def _ratio(x: float | None) -> str:
    return _opt(lambda v: f"{v:.2f}x", x)


def _measured_energy(s: RunSummary) -> str:
    e = s.energy
    if e.total_j is not None:
        return f"{fmt_energy(e.total_j)} ({e.source}, {e.method})"
    if e.measured_records:
        return f"partial: {e.measured_records}/{e.records} client-rounds measured ({e.source})"
    return "not measured (no energy counter)"


def _host_estimate(s: RunSummary) -> str:
    e = s.energy
    if e.estimate_total_j is None:
        return "n/a (none in the trace)"
    return f"{fmt_energy(e.estimate_total_j)} ({e.estimate_method})"


def _memory_spread(m: MemoryDistribution) -> str:
    """min / median / max of the measured per-client-round peaks, with the source and coverage."""
    if not m.measured:
        return "not measured (no memory source on this device)"
    spread = " / ".join(fmt_bytes(v) for v in (m.min_bytes, m.median_bytes, m.max_bytes))  # type: ignore[arg-type]
    cover = "" if m.measured == m.records else f", {m.measured}/{m.records} client-rounds"
    return f"{spread} ({m.source}{cover})"


def _memory_peak(m: MemoryDistribution) -> str:
    """The largest measured per-client-round peak and its source."""
    if not m.measured or m.max_bytes is None:
        return "not measured (no memory source on this device)"
    return f"{fmt_bytes(m.max_bytes)} ({m.source}, max of {m.measured} client-rounds)"


def comparison_table(summaries: Sequence[RunSummary]) -> Table:
    """Several runs side by side: one column per run, one row per figure of merit."""
    rows: list[tuple[str, ...]] = []

    def row(label: str, f: Callable[[RunSummary], str]) -> None:
        rows.append((label, *(f(s) for s in summaries)))

    row("weight / activation sparsity (configured)",
        lambda s: f"{_pct(s.weight_sparsity)} / {_pct(s.activation_sparsity)}")
    row("upload (encoding, mask ratio) (configured)",
        lambda s: f"{s.upload or 'n/a'} ({s.encoding or 'n/a'}, {s.mask_ratio if s.mask_ratio is not None else 'n/a'})")
    row("rounds / client-rounds (failed) (recorded)",
        lambda s: f"{s.rounds_completed} / {s.client_rounds} ({s.failed_client_rounds})")
    row("final accuracy (measured)", lambda s: _pct(s.final_accuracy))
    row("best accuracy (round) (measured)",
        lambda s: f"{_pct(s.best_accuracy)} ({s.best_round if s.best_round is not None else 'n/a'})")
    for k in FLOP_KEYS:
        row(f"FLOPs/client-round {k}: dense -> sparse (counted)",
            lambda s, k=k: f"{fmt_flops(getattr(s.flops_dense, k))} -> {fmt_flops(getattr(s.flops_sparse, k))}")
    extra = sorted({k for s in summaries for k, _ in s.flops_dense.extra + s.flops_sparse.extra})
    for k in extra:  # e.g. topk: the mask selection, counted as operations (comparisons), not FLOPs
        row(f"{k} operations/client-round (not FLOPs, not in total): dense -> sparse (counted)",
            lambda s, k=k: f"{fmt_count(dict(s.flops_dense.extra).get(k, 0))} -> "
                           f"{fmt_count(dict(s.flops_sparse.extra).get(k, 0))}")
    row("flop_reduction (dense/sparse) (counted)", lambda s: _ratio(s.flop_reduction))
    row("upload/client-round (dense) (measured: encoded bytes)",
        lambda s: f"{fmt_bytes(s.bytes_up_mean)} ({fmt_bytes(s.bytes_up_dense_mean)})")
    row("upload saving vs dense (measured)", lambda s: _pct(s.upload_saving))
    row("download/client-round (measured)", lambda s: fmt_bytes(s.bytes_down_mean))
    row("wall time, run (measured)", lambda s: _opt(fmt_time, s.wall_time_s))
    row("client time, sum (measured)", lambda s: fmt_time(s.client_wall_time_s))
    row("client energy (measured)", _measured_energy)
    row("client energy (estimated on the host, from the trace)", _host_estimate)
    row("peak memory/client-round, min / median / max (measured)", lambda s: _memory_spread(s.memory))
    targets = [s.target for s in summaries if s.target is not None]
    if targets:
        pct = f"{targets[0].target * 100:g}%"
        row(f"round reaching {pct} accuracy (measured)",
            lambda s: "not reached" if not s.target or not s.target.reached else str(s.target.round))
        row(f"time to {pct} (measured)", lambda s: _target(s, lambda t: _opt(fmt_time, t.time_s)))
        row(f"client energy to {pct} (measured)",
            lambda s: _target(s, lambda t: _opt(fmt_energy, t.energy_j) if t.energy_j is not None
                              else "not measured"))
        row(f"client energy to {pct} (estimated on the host)",
            lambda s: _target(s, lambda t: _opt(fmt_energy, t.energy_estimate_j)))
    return Table("Runs side by side", ("", *(s.name for s in summaries)), tuple(rows))


def _target(s: RunSummary, f: Callable[..., str]) -> str:
    return "not reached" if s.target is None or not s.target.reached else f(s.target)


def config_table(s: RunSummary) -> Table:
    """The run's configuration as recorded in config.toml."""
    return Table(f"{s.name}: configuration", ("key", "value"), tuple((k, str(v)) for k, v in s.config))


def layers_table(s: RunSummary) -> Table:
    """The five (top_k) costliest layers of one step, by sparse FLOPs (counted)."""
    rows = tuple((lc.label, lc.type, fmt_flops(lc.dense_total), fmt_flops(lc.sparse_total),
                  _ratio(lc.dense_total / lc.sparse_total if lc.sparse_total else None))
                 for lc in s.top_layers)
    return Table(f"{s.name}: costliest layers (one training step, counted)",
                 ("layer (module path)", "type", "dense FLOPs", "sparse FLOPs", "reduction"), rows)


def _with_comm(c: DeviceCost, total: str, comm: float | None, fmt: Callable[[float], str]) -> str:
    """The total with its transfer part, or the fact that transfers were not priced."""
    if c.network is None:
        return f"{total} (transfers not costed)"
    return total if comm is None else f"{total} (transfers {fmt(comm)})"


def device_table(s: RunSummary, costs: Sequence[DeviceCost]) -> Table:
    """Estimated time, energy and memory per round on each requested device, sparse vs dense."""
    rows = []
    for c in costs:
        mem = "n/a" if c.peak_memory_bytes is None else (
            f"{fmt_bytes(c.peak_memory_bytes)} ({ {True: 'fits', False: 'exceeds', None: '?'}[c.fits]} RAM)")
        rows.append((c.label, _with_comm(c, fmt_time(c.mean_time_s), c.mean_comm_time_s, fmt_time),
                     fmt_time(c.mean_time_s_dense), _ratio(c.speedup),
                     _with_comm(c, fmt_energy(c.mean_energy_j), c.mean_comm_energy_j, fmt_energy),
                     fmt_energy(c.mean_energy_j_dense), _pct(c.energy_saving), mem))
    return Table(f"{s.name}: estimated per round on each device",
                 ("device", "time/round (estimated)", "dense time/round (estimated)", "speed-up (estimated)",
                  "energy/round (estimated)", "dense energy/round (estimated)", "energy saving (estimated)",
                  "peak memory/client (estimated)"), tuple(rows))


def side_by_side_table(s: RunSummary, costs: Sequence[DeviceCost]) -> Table:
    """Measured and estimated values of the same quantities (time, energy, memory) in one table."""
    n_rounds = len(s.rounds) or 1
    round_times = [p.round_wall_time_s for p in s.rounds]
    measured_t = (None if not round_times or any(t is None for t in round_times)
                  else sum(round_times) / n_rounds)  # type: ignore[arg-type]
    e = s.energy
    measured_e = None if e.total_j is None else e.total_j / n_rounds
    host_e = None if e.estimate_total_j is None else e.estimate_total_j / n_rounds
    header = ["quantity", f"measured on {s.run_device.device} ({e.source if e.total_j is not None else 'time only'})",
              f"estimated on the host ({e.estimate_method or 'none'})"]
    header += [f"estimated on {c.device}" for c in costs]
    rows: list[tuple[str, ...]] = [
        ("time/round (slowest client)", _opt(fmt_time, measured_t), "n/a (energy only)",
         *(_with_comm(c, fmt_time(c.mean_time_s), c.mean_comm_time_s, fmt_time) for c in costs)),
        ("client energy/round (all clients)", _opt(fmt_energy, measured_e) if measured_e is not None
         else "not measured (no energy counter)", _opt(fmt_energy, host_e),
         *(_with_comm(c, fmt_energy(c.mean_energy_j), c.mean_comm_energy_j, fmt_energy) for c in costs)),
        ("peak memory/client", _memory_peak(s.memory), "n/a",
         *(_opt(fmt_bytes, c.peak_memory_bytes) for c in costs)),
    ]
    t = s.target
    if t is not None:
        pct = f"{t.target * 100:g}%"
        if t.reached:
            ups = [c.upto(t.round) for c in costs]  # type: ignore[arg-type]
            rows.append((f"time to {pct}", _opt(fmt_time, t.time_s), "n/a (energy only)",
                         *(fmt_time(u[0]) for u in ups)))
            rows.append((f"client energy to {pct}", _opt(fmt_energy, t.energy_j) if t.energy_j is not None
                         else "not measured", _opt(fmt_energy, t.energy_estimate_j), *(fmt_energy(u[1]) for u in ups)))
        else:
            rows.append((f"time / energy to {pct}", "not reached", "not reached", *("not reached" for _ in costs)))
    return Table(f"{s.name}: measured and estimated side by side", tuple(header), tuple(rows))


_CHECK_LABELS = {"time_s": ("client time", fmt_time), "energy_j": ("client energy", fmt_energy),
                 "peak_mem_bytes": ("peak memory/client", fmt_bytes)}


def calibration_table(s: RunSummary, check: CalibrationCheck) -> Table:
    """The run's measurements beside the estimate of the device it ran on, with measured/estimated."""
    rows = []
    for c in check.checks:
        label, f = _CHECK_LABELS[c.quantity]
        rows.append((label, _opt(f, c.measured), c.measured_source, _opt(f, c.estimated), c.estimated_basis,
                     _ratio(c.ratio)))
    return Table(f"{s.name}: measured on {check.run_device.device} ({check.run_device.name}) vs estimated on "
                 f"{check.device}", ("quantity", "measured", "measured as", f"estimated on {check.device}",
                                     "estimated as", "measured / estimated"), tuple(rows))


def assumptions_table(s: RunSummary, costs: Sequence[DeviceCost]) -> Table:
    """What each device estimate assumed: device and mode, precision, network, energy model."""
    rows = []
    for c in costs:
        b = c.basis
        if b is None:
            rows.append((c.label, "not stated by the estimator", "n/a", c.network or "n/a", "n/a", "n/a"))
            continue
        rows.append((c.label, b.device_text, b.precision or "unknown (no layers.json dtype)", b.network_text,
                     b.energy_text, b.basis or "n/a"))
    return Table(f"{s.name}: what the estimates assume",
                 ("estimate", "device and mode", "precision", "network", "energy basis", "workload basis"),
                 tuple(rows))


def estimate_notes(costs: Sequence[DeviceCost]) -> tuple[str, ...]:
    """The cost model's notes for these estimates, each once, in first-seen order."""
    seen: dict[str, None] = {}
    for c in costs:
        for n in (c.basis.notes if c.basis else ()):
            seen.setdefault(n, None)
    return tuple(seen)


def host_estimate_notes(s: RunSummary) -> tuple[str, ...]:
    """What the trace's own host energy estimate assumed (the estimate's flags)."""
    e = s.energy
    if e.estimate_total_j is None:
        return ()
    return tuple(f"host energy estimate ({e.estimate_method}): {f}" for f in e.estimate_basis) or (
        f"host energy estimate ({e.estimate_method}): basis not recorded in the trace",)


__all__ = ["Table", "assumptions_table", "calibration_table", "comparison_table", "config_table", "device_table",
           "estimate_notes", "host_estimate_notes", "layers_table", "side_by_side_table"]
