"""The fidelity table: exclude, fit in-sample, refit leaving each model out, price every comparable row.

Held out = leave one model out: each row is predicted by parameters fitted to the other models'
rows; a unit whose rows are all one model falls back to its declared values (and says so).
Held out by device = leave one device out: in a class with several fitted devices, each device's
rows (in its unlimited power mode) are predicted by values carried over (:mod:`.transfer`) from the
others, refitted without it: the error of pricing a device that has no rows.
Independent check = rows whose ``role`` is "check" (a source held back from every fit): priced by
what the catalogue ships for their device (its in-sample fit, its class's carried-over values, or its
declared values), never fitted, never part of the in-sample or held-out figures.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

from ...hardware_models.records import DeviceProfile
from ...hardware_models.workload import StepRows
from ...traces.parallel import ignore_sigint, start_method, worker_count
from ..predict import StepPrice, energy_above_idle
from .declared import DeclaredUnit, declared_units, transfer_targets
from .exclusions import Context, exclusion_of
from .fit import ClassFit, fit_all, predict_row, unit_model
from .rows import PublishedRow
from .transfer import transfer_fit, with_transferred


@dataclass(frozen=True)
class RowResult:
    """One comparable row: measured, predicted in-sample and held out (leave its model out)."""

    row: PublishedRow
    workload: str
    predicted_s: float
    held_out_s: float | None
    held_out_basis: str  # "fitted without <model>" | "declared values (no other model)" ...
    energy_measured_j: float | None
    energy_predicted_j: float | None
    held_out_energy_j: float | None
    device_held_out_s: float | None = None  # predicted from the class's other devices (transfer.py)
    device_held_out_energy_j: float | None = None

    @property
    def ratio(self) -> float:
        """predicted / measured time."""
        return self.predicted_s / self.row.step_s

    @property
    def held_out_ratio(self) -> float | None:
        """held-out predicted / measured time."""
        return None if self.held_out_s is None else self.held_out_s / self.row.step_s

    @property
    def device_held_out_ratio(self) -> float | None:
        """predicted from the other devices of its class / measured time."""
        return None if self.device_held_out_s is None else self.device_held_out_s / self.row.step_s

    @property
    def device_held_out_energy_ratio(self) -> float | None:
        """predicted from the other devices of its class / measured energy."""
        m = _measured_energy(self.row)
        return None if m is None or self.device_held_out_energy_j is None else self.device_held_out_energy_j / m

    @property
    def energy_ratio(self) -> float | None:
        """predicted / measured energy on the row's basis, where the row measured energy or power."""
        if self.energy_measured_j is None or self.energy_predicted_j is None:
            return None
        return self.energy_predicted_j / self.energy_measured_j


@dataclass(frozen=True)
class CheckResult:
    """A row of a source held back from every fit, priced as the shipped catalogue prices its device."""

    row: PublishedRow
    workload: str
    predicted_s: float
    basis: str  # "fitted" | "carried over from <devices>" | "declared values"
    energy_measured_j: float | None = None
    energy_predicted_j: float | None = None

    @property
    def ratio(self) -> float:
        """predicted / measured time."""
        return self.predicted_s / self.row.step_s

    @property
    def energy_ratio(self) -> float | None:
        """predicted / measured energy, where the row measured energy or power."""
        if self.energy_measured_j is None or self.energy_predicted_j is None:
            return None
        return self.energy_predicted_j / self.energy_measured_j


@dataclass(frozen=True)
class FidelityReport:
    """Everything `zerofl-profile fidelity` shows."""

    results: tuple[RowResult, ...]
    excluded: Mapping[str, tuple[str, ...]]  # rule -> row ids
    fits: Mapping[str, ClassFit]
    declared: Mapping[tuple[str, str], DeclaredUnit]
    total_rows: int
    checks: tuple[CheckResult, ...] = ()

    @property
    def held_out(self) -> tuple[RowResult, ...]:
        """Rows predicted by a fit that did not see their model."""
        return tuple(r for r in self.results if r.held_out_s is not None and r.held_out_basis.startswith("fitted"))


def _energy(row: PublishedRow, price: StepPrice, unit: DeviceProfile) -> float | None:
    if row.energy_j is not None:
        return energy_above_idle(price, unit) if row.energy_above_idle else price.energy_j
    if row.power_w is not None:
        return price.energy_j
    return None


def _measured_energy(row: PublishedRow) -> float | None:
    if row.energy_j is not None:
        return row.energy_j
    if row.power_w is not None:
        return row.power_w * row.step_s
    return None


def mode_of(row: PublishedRow, ctx: Context) -> str | None:
    """The power mode a row ran in: its power limit when below the source's highest (``150W``), else None."""
    if row.power_limit_w is None or row.power_limit_w >= ctx.max_limit_w[row.source.file]:
        return None
    return f"{row.power_limit_w:g}W"


#: (comparable rows, workloads, declared units, power modes) of the run in progress: fork-started
#: workers inherit it, so a held-out fit ships only a model name and returns plain numbers.
_HELD_CTX: tuple | None = None


def _held_out(m: str) -> dict[str, tuple[float, float | None, str]]:
    """Refit without model ``m`` and predict its rows: id -> (time, energy or None, basis)."""
    kept, work, declared, modes = _HELD_CTX  # type: ignore[misc]
    test = [r for r in kept if r.model == m]
    # only the device classes that hold the model are refitted: a class's fit never sees other classes' rows
    classes = {declared[(r.device, r.unit)].device_class for r in test}
    train = [r for r in kept if r.model != m and declared[(r.device, r.unit)].device_class in classes]
    sub = fit_all(train, work, declared, modes)
    held = {}
    for r in test:
        decl = declared[(r.device, r.unit)]
        cf = sub.get(decl.device_class)
        base = (r.device, r.unit, None)
        seen = cf is not None and base in cf.devices and cf.devices[base].status == "fitted"
        basis = f"fitted without {m}" if seen else "declared values (no other model on this device)"
        u = unit_model(decl, cf if seen else None, modes[r.id])
        pr = predict_row(r, work[r.id], u)
        held[r.id] = (pr.time_s, _energy(r, pr, u) if u.dynamic_power_w is not None or r.power_w else None, basis)
    return held


def _held_out_device(dev: tuple[str, str]) -> dict[str, tuple[float, float | None]]:
    """Refit ``dev``'s class without its rows, carry the others' values over to it, price its rows.

    Only its rows in the unlimited mode are priced: a power mode's clocks are fitted per device.
    """
    kept, work, declared, modes = _HELD_CTX  # type: ignore[misc]
    decl = declared[dev]
    train = [r for r in kept if (r.device, r.unit) != dev and declared[(r.device, r.unit)].device_class == decl.device_class]
    cf = fit_all(train, work, declared, modes).get(decl.device_class)
    tf = transfer_fit(decl, cf, declared) if cf is not None else None
    if tf is None:
        return {}
    u = unit_model(decl, with_transferred(cf, tf))  # type: ignore[arg-type]
    out = {}
    for r in kept:
        if (r.device, r.unit) == dev and modes[r.id] is None:
            pr = predict_row(r, work[r.id], u)
            out[r.id] = (pr.time_s, _energy(r, pr, u) if u.dynamic_power_w is not None else None)
    return out


def _device_held_out_targets(kept: Sequence[PublishedRow], declared: Mapping[tuple[str, str], DeclaredUnit],
                             modes: Mapping[str, str | None]) -> list[tuple[str, str]]:
    """Devices that can be held out: more rows than one parameter, in a class with another such device."""
    n: dict[tuple[str, str], int] = {}
    for r in kept:
        if modes[r.id] is None:
            n[(r.device, r.unit)] = n.get((r.device, r.unit), 0) + 1
    ok = [d for d, c in n.items() if c > 1]
    by_cls: dict[str, list[tuple[str, str]]] = {}
    for d in ok:
        by_cls.setdefault(declared[d].device_class, []).append(d)
    return sorted(d for ds in by_cls.values() if len(ds) > 1 for d in ds)


def run_fidelity(rows: Sequence[PublishedRow], work_of: Callable[[PublishedRow], StepRows],
                 progress: Callable[[str], None] | None = None) -> FidelityReport:
    """Exclude, fit in-sample, refit leaving each model out, and predict every comparable row."""
    workers = worker_count(None) if start_method() == "fork" else 1  # a bad $ZEROFL_LOAD_WORKERS stops here
    declared = declared_units([(r.device, r.unit) for r in rows])
    ctx = Context.of(rows, frozenset(declared))
    excluded: dict[str, list[str]] = {}
    kept = []
    for r in rows:
        rule = exclusion_of(r, ctx)
        if rule is None:
            kept.append(r)
        else:
            excluded.setdefault(rule, []).append(r.id)
    checks = [r for r in kept if r.role == "check"]
    kept = [r for r in kept if r.role != "check"]
    if progress:
        progress(f"{len(kept)} comparable rows, {len(checks)} held back as a check, "
                 f"{len(rows) - len(kept) - len(checks)} excluded; counting workloads")
    work = {r.id: work_of(r) for r in (*kept, *checks)}
    modes = {r.id: mode_of(r, ctx) for r in (*kept, *checks)}
    if progress:
        progress("fitting in-sample")
    models = sorted({r.model for r in kept})
    global _HELD_CTX
    _HELD_CTX = (kept, work, declared, modes)
    devices = _device_held_out_targets(kept, declared, modes)
    held: dict[str, tuple[float, float | None, str]] = {}
    held_dev: dict[str, tuple[float, float | None]] = {}
    n = min(workers, len(models) + len(devices))
    try:
        if n > 1:  # the held-out fits run in worker processes while this one fits in-sample
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=ignore_sigint) as pool:
                futures = [(m, pool.submit(_held_out, m)) for m in models]
                dev_futures = [(d, pool.submit(_held_out_device, d)) for d in devices]
                fits = fit_all(kept, work, declared, modes)
                for m, fut in futures:
                    held.update(fut.result())
                    if progress:
                        progress(f"fitted without {m}")
                for d, dfut in dev_futures:
                    held_dev.update(dfut.result())
                    if progress:
                        progress(f"fitted without {d[0]}-{d[1]}")
        else:
            fits = fit_all(kept, work, declared, modes)
            for m in models:
                if progress:
                    progress(f"fitting without {m}")
                held.update(_held_out(m))
            for d in devices:
                if progress:
                    progress(f"fitting without {d[0]}-{d[1]}")
                held_dev.update(_held_out_device(d))
    finally:
        _HELD_CTX = None
    results = []
    for r in kept:
        decl = declared[(r.device, r.unit)]
        u = unit_model(decl, fits[decl.device_class], modes[r.id])
        pr = predict_row(r, work[r.id], u)
        ht, he, hb = held[r.id]
        dt, de = held_dev.get(r.id, (None, None))
        results.append(RowResult(r, _label(r, work[r.id]), pr.time_s, ht, hb, _measured_energy(r),
                                 _energy(r, pr, u), he, dt, de))
    checked = tuple(_check(r, work[r.id], declared[(r.device, r.unit)], fits, declared, modes[r.id]) for r in checks)
    return FidelityReport(tuple(results), MappingProxyType({k: tuple(v) for k, v in excluded.items()}),
                          MappingProxyType(fits), MappingProxyType(declared), len(rows), checked)


def _check(r: PublishedRow, w: StepRows, decl: DeclaredUnit, fits: Mapping[str, ClassFit],
           declared: Mapping[tuple[str, str], DeclaredUnit], mode: str | None) -> CheckResult:
    """Price a check row with the values the catalogue ships for its device (write.py writes the same)."""
    cf = fits.get(decl.device_class)
    own = cf.devices.get((r.device, r.unit, None)) if cf is not None else None
    tf = (transfer_fit(decl, cf, declared) if cf is not None and (own is None or own.status != "fitted")
          and (r.device, r.unit) in transfer_targets() else None)
    if own is not None and own.status == "fitted":
        u, basis = unit_model(decl, cf, mode), "fitted"
    elif tf is not None:
        u, basis = unit_model(decl, with_transferred(cf, tf)), f"carried over from {', '.join(tf.sources)}"  # type: ignore[arg-type]
    else:
        u, basis = unit_model(decl, None), "declared values"
    pr = predict_row(r, w, u)
    return CheckResult(r, _label(r, w), pr.time_s, basis, _measured_energy(r), _energy(r, pr, u))


def _label(r: PublishedRow, w: StepRows) -> str:
    return f"{r.model} b{r.batch} {r.precision}"
