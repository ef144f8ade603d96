"""The report's tables as plain rows of strings, shared by the Markdown and HTML renderers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..analysis.summary import RunSummary
from ..traces.schema import FLOP_KEYS
from ..units import fmt_bytes, fmt_count, fmt_energy, fmt_flops, fmt_time
from .costs import DeviceCost


@dataclass(frozen=True)
class Table:
    """A titled table: header cells and rows of cells (all strings)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"


def _opt(fmt: Callable[[float], str], x: float | None) -> str:
    return "n/a" if x is None else fmt(x)


def _energy_cell(s: RunSummary) -> str:
    e = s.energy
    if e.total_j is not None:
        return f"{fmt_energy(e.total_j)} measured ({e.source}, {e.method})"
    if e.measured_records:
        return f"partial: {e.measured_records}/{e.records} client-rounds measured ({e.source})"
    return "not measured (no counter)"


def comparison_table(summaries: Sequence[RunSummary]) -> Table:
    """Several runs side by side: one column per run, one row per figure of merit."""
    rows: list[tuple[str, ...]] = []

    def row(label: str, f: Callable[[RunSummary], str]) -> None:
        rows.append((label, *(f(s) for s in summaries)))

    row("weight / activation sparsity", lambda s: f"{_pct(s.weight_sparsity)} / {_pct(s.activation_sparsity)}")
    row("upload (encoding, mask ratio)",
        lambda s: f"{s.upload or 'n/a'} ({s.encoding or 'n/a'}, {s.mask_ratio if s.mask_ratio is not None else 'n/a'})")
    row("rounds / client-rounds (failed)",
        lambda s: f"{s.rounds_completed} / {s.client_rounds} ({s.failed_client_rounds})")
    row("final accuracy", lambda s: _pct(s.final_accuracy))
    row("best accuracy (round)", lambda s: f"{_pct(s.best_accuracy)} ({s.best_round if s.best_round is not None else 'n/a'})")
    for k in FLOP_KEYS:
        row(f"FLOPs/client-round {k}: dense -> sparse",
            lambda s, k=k: f"{fmt_flops(getattr(s.flops_dense, k))} -> {fmt_flops(getattr(s.flops_sparse, k))}")
    extra = sorted({k for s in summaries for k, _ in s.flops_dense.extra + s.flops_sparse.extra})
    for k in extra:  # e.g. topk: the mask selection, counted as operations (comparisons), not FLOPs
        row(f"{k} operations/client-round (not FLOPs, not in total): dense -> sparse",
            lambda s, k=k: f"{fmt_count(dict(s.flops_dense.extra).get(k, 0))} -> "
                           f"{fmt_count(dict(s.flops_sparse.extra).get(k, 0))}")
    row("flop_reduction (dense/sparse)", lambda s: _opt(lambda v: f"{v:.2f}x", s.flop_reduction))
    row("upload/client-round (dense)", lambda s: f"{fmt_bytes(s.bytes_up_mean)} ({fmt_bytes(s.bytes_up_dense_mean)})")
    row("upload saving vs dense", lambda s: _pct(s.upload_saving))
    row("download/client-round", lambda s: fmt_bytes(s.bytes_down_mean))
    row("measured wall time (run)", lambda s: _opt(fmt_time, s.wall_time_s))
    row("measured client time (sum)", lambda s: fmt_time(s.client_wall_time_s))
    row("measured client energy", _energy_cell)
    row("host energy estimate (trace)",
        lambda s: "n/a" if s.energy.estimate_total_j is None
        else f"{fmt_energy(s.energy.estimate_total_j)} estimated ({s.energy.estimate_method})")
    if any(s.target is not None for s in summaries):
        t0 = next(s.target for s in summaries if s.target is not None)
        row(f"round reaching {t0.target * 100:g}% accuracy",  # type: ignore[union-attr]
            lambda s: "not reached" if not s.target or not s.target.reached else str(s.target.round))
        row("measured time / energy to target", lambda s: _target_cell(s))
    return Table("Runs side by side", ("", *(s.name for s in summaries)), tuple(rows))


def _target_cell(s: RunSummary) -> str:
    t = s.target
    if t is None or not t.reached:
        return "not reached"
    energy = (f"{fmt_energy(t.energy_j)} measured ({t.energy_source})" if t.energy_j is not None
              else (f"{fmt_energy(t.energy_estimate_j)} estimated (host)" if t.energy_estimate_j is not None else "n/a"))
    return f"{_opt(fmt_time, t.time_s)} / {energy}"


def config_table(s: RunSummary) -> Table:
    """The run's configuration as recorded in config.toml."""
    return Table(f"{s.name}: configuration", ("key", "value"), tuple((k, str(v)) for k, v in s.config))


def layers_table(s: RunSummary) -> Table:
    """The five (top_k) costliest layers of one step, by sparse FLOPs."""
    rows = tuple((lc.label, lc.type, fmt_flops(lc.dense_total), fmt_flops(lc.sparse_total),
                  _opt(lambda v: f"{v:.2f}x", lc.dense_total / lc.sparse_total if lc.sparse_total else None))
                 for lc in s.top_layers)
    return Table(f"{s.name}: costliest layers (one training step)",
                 ("layer", "type", "dense FLOPs", "sparse FLOPs", "reduction"), rows)


def device_table(s: RunSummary, costs: Sequence[DeviceCost]) -> Table:
    """Estimated time and energy per round on each requested device, sparse vs dense."""
    rows = []
    for c in costs:
        t_to = "n/a"
        if s.target is not None and s.target.reached:
            t, e = c.upto(s.target.round)  # type: ignore[arg-type]
            t_to = f"{fmt_time(t)} / {fmt_energy(e)}"
        elif s.target is not None:
            t_to = "not reached"
        rows.append((c.label, fmt_time(c.mean_time_s), fmt_time(c.mean_time_s_dense),
                     _opt(lambda v: f"{v:.2f}x", c.speedup), fmt_energy(c.mean_energy_j),
                     fmt_energy(c.mean_energy_j_dense), _pct(c.energy_saving), t_to))
    return Table(f"{s.name}: estimated per round on each device",
                 ("device", "time/round", "dense time/round", "speed-up", "energy/round", "dense energy/round",
                  "energy saving", "time / energy to target"), tuple(rows))
