"""Fit device models to published training measurements; judge them on models they did not see.

Parameters (docs/fidelity.md):

* per device class (``phone-cpu``, ``gpu``), shared by its devices: ``half_work_flops`` (h) of the
  saturating efficiency ``W / (W + h)``, and ``gemm_grouped / gemm`` efficiency ratio (g) when the
  training rows contain grouped (depthwise) convolutions;
* per device: its GEMM efficiency scale (``efficiency.gemm``, s) and its per-op dispatch overhead
  (``kernel_overhead_s``, o); with 2 rows only s, with fewer none ("too few rows": declared kept);
* power per device: ``dynamic_power_w`` (power = idle + dynamic x utilisation) from rows with an
  average board power or with energy above the idle baseline; rows measured under load only
  cannot separate idle from dynamic power, so the declared ``idle_power_w`` is kept. Again more
  rows than parameters, else declared values are kept.

Time is fitted in log space (every row counts by its ratio, a 10 ms step as much as a 1 s step)
by damped Gauss-Newton on a numeric Jacobian. numpy only; the workloads come from
:mod:`.workloads` (torch), computed once per row.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import numpy as np

from ...errors import BadInputError
from ...hardware_models.catalogue import resolve_device
from ..predict import GEMM_CLASSES, StepPrice, StepRows, UnitModel, energy_above_idle, price_step
from .exclusions import Context, exclusion_of
from .rows import PublishedRow

#: a fitted unit: (device, unit, power mode or None)
Key = tuple[str, str, "str | None"]
#: catalogue category (and unit) -> device class that shares the efficiency shape
DEVICE_CLASS = {("phone", "cpu"): "phone-cpu", ("phone", "gpu"): "phone-gpu", ("gpu", "gpu"): "gpu",
                ("jetson", "gpu"): "jetson-gpu", ("jetson", "cpu"): "jetson-cpu"}
#: starting half-work point per class (FLOPs); the fit moves it
H_START = {"phone-cpu": 1e8, "phone-gpu": 1e8, "gpu": 1e10, "jetson-gpu": 1e9, "jetson-cpu": 1e8}
G_START = 0.3
#: relative drop of the rms log error that keeps the size-aware curve (else flat efficiency)
CURVE_GAIN = 0.1


@dataclass(frozen=True)
class DeclaredUnit:
    """A catalogue unit with the schema-2 extras of declared.toml: the fit's starting point."""

    device: str
    unit: str
    category: str
    runtime: str
    model: UnitModel
    extras_sources: Mapping[str, str]  # field -> source key in declared.toml

    @property
    def device_class(self) -> str:
        """The class whose efficiency shape this unit shares."""
        return DEVICE_CLASS.get((self.category, self.unit), f"{self.category}-{self.unit}")


def _declared_raw() -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("declared.toml").read_text(encoding="utf-8"))


def declared_sources() -> Mapping[str, Mapping[str, str]]:
    """The ``[sources.*]`` tables of declared.toml."""
    return _declared_raw().get("sources", {})


def declared_units(devices: Sequence[tuple[str, str]]) -> dict[tuple[str, str], DeclaredUnit]:
    """The catalogue's units named in ``devices`` (unknown ones left out), with declared.toml's extras."""
    from ...hardware_models.catalogue import get_device

    extra = _declared_raw().get("device", {})
    out = {}
    for dev, unit in sorted(set(devices)):
        try:
            spec = get_device(dev)
            prof = resolve_device(f"{dev}-{unit}") if len(spec.units) > 1 else resolve_device(dev)
        except BadInputError:
            continue
        if prof.unit != unit:
            continue
        x = extra.get(dev, {}).get(unit, {})
        peaks = {k[len("peak_flops_"):]: float(v["value"]) for k, v in x.items() if k.startswith("peak_flops_")}
        srcs = {k: v["source"] for k, v in x.items() if isinstance(v, dict) and "source" in v}
        prec = {k: v for k, v in x.get("precision", {}).items() if k != "source"}
        model = UnitModel(prof, peaks=MappingProxyType(peaks), precision=MappingProxyType(prec))
        out[(dev, unit)] = DeclaredUnit(dev, unit, spec.category, str(x.get("runtime", "default")), model, srcs)
    return out


# ------------------------------------------------------------------------------------------------
# parameters


@dataclass(frozen=True)
class DeviceFit:
    """Fitted parameters of one unit and the rows they came from."""

    device: str
    unit: str
    mode: str | None  # a power-limit mode ("150W"), None for the unit's default
    runtime: str
    status: str  # "fitted" | "too few rows"
    gemm_efficiency: float
    kernel_overhead_s: float
    mem_bandwidth_bytes_per_s: float
    fitted: tuple[str, ...]  # names of the fitted time parameters
    rows: tuple[str, ...]
    idle_power_w: float
    dynamic_power_w: float | None
    power_status: str  # "fitted" | "too few rows" | "no power rows"
    power_fitted: tuple[str, ...] = ()
    power_rows: tuple[str, ...] = ()
    clock: float = 1.0  # a mode's compute-peak multiplier (clocks under the power limit)

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return {"device": self.device, "unit": self.unit, "mode": self.mode, "clock": self.clock,
                "runtime": self.runtime, "status": self.status,
                "efficiency_gemm": self.gemm_efficiency, "kernel_overhead_s": self.kernel_overhead_s,
                "mem_bandwidth_bytes_per_s": self.mem_bandwidth_bytes_per_s,
                "fitted": list(self.fitted), "rows": list(self.rows), "idle_power_w": self.idle_power_w,
                "dynamic_power_w": self.dynamic_power_w, "power_status": self.power_status,
                "power_fitted": list(self.power_fitted), "power_rows": list(self.power_rows)}


@dataclass(frozen=True)
class ClassFit:
    """Shared shape of one device class and the fits of its devices."""

    device_class: str
    half_work_flops: float | None
    grouped_ratio: float | None
    optimizer_efficiency: float | None
    fitted: tuple[str, ...]
    devices: Mapping[Key, DeviceFit]
    rms_log_error: float

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return {"device_class": self.device_class, "half_work_flops": self.half_work_flops,
                "grouped_ratio": self.grouped_ratio, "optimizer_efficiency": self.optimizer_efficiency,
                "fitted": list(self.fitted),
                "rms_log_error": self.rms_log_error,
                "devices": [d.to_json() for d in self.devices.values()]}


def unit_model(decl: DeclaredUnit, cls: ClassFit | None, mode: str | None = None) -> UnitModel:
    """The unit (in a power mode) as the fit has it; declared values where it fitted nothing."""
    base_key = (decl.device, decl.unit, None)
    if cls is None or base_key not in cls.devices:
        return decl.model
    d = cls.devices[base_key]
    eff = dict(decl.model.efficiency)
    eff["gemm"] = d.gemm_efficiency
    if cls.grouped_ratio is not None:
        eff["gemm_grouped"] = d.gemm_efficiency * cls.grouped_ratio
    if cls.optimizer_efficiency is not None:
        eff["optimizer"] = cls.optimizer_efficiency
    u = decl.model.with_fields(efficiency=MappingProxyType(eff), kernel_overhead_s=d.kernel_overhead_s,
                               mem_bandwidth_bytes_per_s=d.mem_bandwidth_bytes_per_s,
                               half_work_flops=cls.half_work_flops, idle_power_w=d.idle_power_w,
                               dynamic_power_w=d.dynamic_power_w)
    m = cls.devices.get((decl.device, decl.unit, mode)) if mode else None
    return _in_mode(u, m.clock, m.dynamic_power_w if m.dynamic_power_w is not None else u.dynamic_power_w) \
        if m is not None else u


def _in_mode(u: UnitModel, clock: float, dynamic_power_w: float | None) -> UnitModel:
    """A unit under a power limit: every compute peak times ``clock`` (bandwidth and dispatch unchanged)."""
    return u.with_fields(peak_flops=u.profile.peak_flops * clock,
                         peaks=MappingProxyType({k: v * clock for k, v in u.peaks.items()}),
                         dynamic_power_w=dynamic_power_w)


def predict_row(row: PublishedRow, work: StepRows, unit: UnitModel) -> StepPrice:
    """Price a published row: its workload on the unit with the row's precision on the GEMM classes."""
    return price_step(work, unit.with_precision(row.precision))


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(max(x, -60.0), 60.0)))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def gauss_newton(resid: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, iters: int = 60) -> np.ndarray:
    """Minimise ||resid(x)||^2 by Levenberg-Marquardt with a forward-difference Jacobian."""
    x = np.asarray(x0, dtype=np.float64).copy()
    r = resid(x)
    cost = float(r @ r)
    lam = 1e-2
    for _ in range(iters):
        jac = np.empty((len(r), len(x)))
        for j in range(len(x)):
            dx = np.zeros_like(x)
            dx[j] = 1e-5 * max(1.0, abs(x[j]))
            jac[:, j] = (resid(x + dx) - r) / dx[j]
        g = jac.T @ r
        a = jac.T @ jac
        improved = False
        for _ in range(12):
            step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-12), -g)
            xn = x + step
            rn = resid(xn)
            cn = float(rn @ rn)
            if np.isfinite(cn) and cn < cost:
                x, r, cost, lam = xn, rn, cn, max(lam / 3, 1e-9)
                improved = True
                break
            lam *= 4
        if not improved or np.abs(step).max() < 1e-7:
            break
    return x


def _time_params(n_rows: int) -> tuple[str, ...]:
    """The time parameters a device with ``n_rows`` rows can fit (more rows than parameters)."""
    return (("scale", "overhead", "bandwidth") if n_rows > 3 else ("scale", "overhead") if n_rows > 2
            else ("scale",) if n_rows > 1 else ())


def fit_class(device_class: str, rows: Sequence[PublishedRow], work: Mapping[str, StepRows],
              declared: Mapping[tuple[str, str], DeclaredUnit],
              modes: Mapping[str, str | None] | None = None) -> ClassFit:
    """Fit one device class's shared shape and per-device time and power parameters to its rows.

    On a compute-bound op the curve adds ``h / (P * eff)`` seconds, a per-op constant like the
    dispatch overhead, so ``half_work_flops`` is kept only when it lowers the rms log error by
    more than ``CURVE_GAIN`` over a flat-efficiency fit with the same other parameters.
    """
    modes = modes or {}
    flat = _fit_class(device_class, rows, work, declared, modes, curve=False)
    if not flat.fitted and not any(d.status == "fitted" for d in flat.devices.values()):
        return flat
    curved = _fit_class(device_class, rows, work, declared, modes, curve=True)
    if "half_work" in curved.fitted and curved.rms_log_error < (1 - CURVE_GAIN) * flat.rms_log_error:
        return curved
    return flat


def _fit_class(device_class: str, rows: Sequence[PublishedRow], work: Mapping[str, StepRows],
               declared: Mapping[tuple[str, str], DeclaredUnit], modes: Mapping[str, str | None], *,
               curve: bool) -> ClassFit:
    def key_of(r: PublishedRow) -> Key:
        return (r.device, r.unit, modes.get(r.id))

    by_dev: dict[Key, list[PublishedRow]] = {}
    for r in rows:
        by_dev.setdefault(key_of(r), []).append(r)
    layout: list[tuple[Key, str]] = []
    for key, rs in sorted(by_dev.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        if key[2] is None:
            layout += [(key, p) for p in _time_params(len(rs))]
        elif len(rs) > 1 and _time_params(len(by_dev.get((key[0], key[1], None), []))):
            layout.append((key, "clock"))  # a mode fits its clocks; the rest is its unit's
    in_layout = {k for k, _ in layout}
    fitted_rows = [r for r in rows if key_of(r) in in_layout]
    has_grouped = any(float(work[r.id].flops[np.array([c == "gemm_grouped" for c in work[r.id].op_class],
                                                      dtype=bool)].sum()) > 0 for r in fitted_rows)
    shared = (["half_work"] if curve else []) + ["optimizer"] + (["grouped"] if has_grouped else [])
    if len(fitted_rows) <= len(layout) + len(shared):
        shared = []
    if len(fitted_rows) <= len(layout):
        layout = []
        fitted_rows = []
    names = shared + [f"{k}:{p}" for k, p in layout]

    def unpack(x: np.ndarray) -> tuple[float | None, float | None, float | None, dict[Key, dict[str, float]]]:
        h = math.exp(min(max(x[0], 0.0), 60.0)) if "half_work" in shared else None
        i0 = 1 if "half_work" in shared else 0
        opt = _sig(x[i0]) if "optimizer" in shared else None
        g = _sig(x[i0 + 1]) if "grouped" in shared else None
        per: dict[Key, dict[str, float]] = {}
        for i, (key, p) in enumerate(layout):
            v = x[len(shared) + i]
            per.setdefault(key, {})[p] = _sig(v) if p in ("scale", "clock") else math.exp(min(max(v, -60.0), 60.0))
        return h, g, opt, per

    def units(x: np.ndarray) -> dict[Key, UnitModel]:
        h, g, opt, per = unpack(x)
        out: dict[Key, UnitModel] = {}
        for (dev, unit), decl in declared.items():
            key = (dev, unit, None)
            if not any(k[:2] == (dev, unit) for k in by_dev):
                continue
            p = per.get(key, {})
            eff = dict(decl.model.efficiency)
            s = p.get("scale", eff["gemm"])
            eff["gemm"] = s
            if g is not None:
                eff["gemm_grouped"] = s * g
            if opt is not None:
                eff["optimizer"] = opt
            out[key] = decl.model.with_fields(
                efficiency=MappingProxyType(eff),
                kernel_overhead_s=p.get("overhead", decl.model.profile.kernel_overhead_s),
                mem_bandwidth_bytes_per_s=p.get("bandwidth", decl.model.profile.mem_bandwidth_bytes_per_s),
                half_work_flops=h)
            for k in by_dev:
                if k[:2] == (dev, unit) and k[2] is not None:
                    out[k] = _in_mode(out[key], per.get(k, {}).get("clock", 1.0), None)
        return out

    meas = np.log(np.array([r.step_s for r in fitted_rows]))

    def resid(x: np.ndarray) -> np.ndarray:
        u = units(x)
        pred = np.array([predict_row(r, work[r.id], u[key_of(r)]).time_s for r in fitted_rows])
        return np.log(pred) - meas

    x0 = []
    if "half_work" in shared:
        x0.append(math.log(H_START.get(device_class, 1e9)))
    if "optimizer" in shared:
        x0.append(_logit(0.05))
    if "grouped" in shared:
        x0.append(_logit(G_START))
    for key, p in layout:
        d = declared[key[:2]].model
        x0.append(_logit(d.efficiency["gemm"]) if p == "scale" else _logit(0.8) if p == "clock"
                  else math.log(d.profile.kernel_overhead_s) if p == "overhead"
                  else math.log(d.profile.mem_bandwidth_bytes_per_s))
    x = np.array(x0)
    if names:
        # a few starting points for h: the objective is not convex in it
        best = None
        for h0 in ((None,) if "half_work" not in shared else (1e6, 1e8, 1e10)):
            xs = x.copy()
            if h0 is not None:
                xs[0] = math.log(h0)
            xf = gauss_newton(resid, xs)
            c = float(np.sum(resid(xf) ** 2))
            if best is None or c < best[0]:
                best = (c, xf)
        x = best[1]
    h, g, opt, per = unpack(x)
    u = units(x)
    devices = {}
    for key, rs in sorted(by_dev.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        decl = declared[key[:2]]
        p = per.get(key, {})
        devices[key] = _power_fit(DeviceFit(
            device=key[0], unit=key[1], mode=key[2], clock=p.get("clock", 1.0), runtime=decl.runtime,
            status="fitted" if p else "too few rows",
            gemm_efficiency=u[key].efficiency["gemm"], kernel_overhead_s=u[key].profile.kernel_overhead_s,
            mem_bandwidth_bytes_per_s=u[key].profile.mem_bandwidth_bytes_per_s,
            fitted=tuple(sorted(p)), rows=tuple(r.id for r in rs) if p else (),
            idle_power_w=decl.model.idle_power_w, dynamic_power_w=None, power_status="no power rows"),
            rs, work, u[key])
    rms = float(np.sqrt(np.mean(resid(x) ** 2))) if fitted_rows else float("nan")
    return ClassFit(device_class, h, g, opt, tuple(shared), MappingProxyType(devices), rms)


def _power_fit(d: DeviceFit, rows: Sequence[PublishedRow], work: Mapping[str, StepRows], unit: UnitModel) -> DeviceFit:
    """idle + dynamic from board-power rows, or dynamic from above-idle energy rows (more rows than parameters)."""
    board = [r for r in rows if r.power_w is not None]
    above = [r for r in rows if r.energy_j is not None and r.energy_above_idle]
    if board:
        # loaded-only rows cannot separate idle from dynamic power: the declared idle is kept
        if len(board) <= 1:
            return replace(d, power_status="too few rows")
        pr = [predict_row(r, work[r.id], unit) for r in board]
        util = np.array([x.utilisation for x in pr])
        p = np.array([r.power_w for r in board])
        # least squares in relative error: min sum((idle + dyn * U) / P - 1)^2, closed form, dyn >= 0
        a = util / p
        dyn = max(0.0, float(np.sum(a * (1.0 - unit.idle_power_w / p)) / max(float(np.sum(a * a)), 1e-300)))
        return replace(d, dynamic_power_w=dyn, power_status="fitted", power_fitted=("dynamic_power_w",),
                       power_rows=tuple(r.id for r in board))
    if above:
        if len(above) <= 1:
            return replace(d, power_status="too few rows")
        ut = np.array([(lambda pr: pr.utilisation * pr.time_s)(predict_row(r, work[r.id], unit)) for r in above])
        e = np.array([r.energy_j for r in above])
        dyn = float(np.exp(np.mean(np.log(e) - np.log(ut))))
        return replace(d, dynamic_power_w=dyn, power_status="fitted", power_fitted=("dynamic_power_w",),
                       power_rows=tuple(r.id for r in above))
    return d


# ------------------------------------------------------------------------------------------------
# the fidelity table


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

    @property
    def ratio(self) -> float:
        """predicted / measured time."""
        return self.predicted_s / self.row.step_s

    @property
    def held_out_ratio(self) -> float | None:
        """held-out predicted / measured time."""
        return None if self.held_out_s is None else self.held_out_s / self.row.step_s

    @property
    def energy_ratio(self) -> float | None:
        """predicted / measured energy on the row's basis, where the row measured energy or power."""
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

    @property
    def held_out(self) -> tuple[RowResult, ...]:
        """Rows predicted by a fit that did not see their model."""
        return tuple(r for r in self.results if r.held_out_s is not None and r.held_out_basis.startswith("fitted"))


def _energy(row: PublishedRow, price: StepPrice, unit: UnitModel) -> float | None:
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


def fit_all(rows: Sequence[PublishedRow], work: Mapping[str, StepRows],
            declared: Mapping[tuple[str, str], DeclaredUnit], modes: Mapping[str, str | None]) -> dict[str, ClassFit]:
    """One fit per device class over the given comparable rows."""
    by_cls: dict[str, list[PublishedRow]] = {}
    for r in rows:
        by_cls.setdefault(declared[(r.device, r.unit)].device_class, []).append(r)
    return {c: fit_class(c, rs, work, declared, modes) for c, rs in sorted(by_cls.items())}


def mode_of(row: PublishedRow, ctx: Context) -> str | None:
    """The power mode a row ran in: its power limit when below the source's highest (``150W``), else None."""
    if row.power_limit_w is None or row.power_limit_w >= ctx.max_limit_w[row.source.file]:
        return None
    return f"{row.power_limit_w:g}W"


def run_fidelity(rows: Sequence[PublishedRow], work_of: Callable[[PublishedRow], StepRows],
                 progress: Callable[[str], None] | None = None) -> FidelityReport:
    """Exclude, fit in-sample, refit leaving each model out, and predict every comparable row."""
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
    if progress:
        progress(f"{len(kept)} comparable rows, {len(rows) - len(kept)} excluded; counting workloads")
    work = {r.id: work_of(r) for r in kept}
    modes = {r.id: mode_of(r, ctx) for r in kept}
    if progress:
        progress("fitting in-sample")
    fits = fit_all(kept, work, declared, modes)
    models = sorted({r.model for r in kept})
    held: dict[str, tuple[float, float | None, str]] = {}
    for m in models:
        if progress:
            progress(f"fitting without {m}")
        train = [r for r in kept if r.model != m]
        test = [r for r in kept if r.model == m]
        sub = fit_all(train, work, declared, modes)
        for r in test:
            decl = declared[(r.device, r.unit)]
            cf = sub.get(decl.device_class)
            base = (r.device, r.unit, None)
            seen = cf is not None and base in cf.devices and cf.devices[base].status == "fitted"
            basis = f"fitted without {m}" if seen else "declared values (no other model on this device)"
            u = unit_model(decl, cf if seen else None, modes[r.id])
            pr = predict_row(r, work[r.id], u)
            held[r.id] = (pr.time_s, _energy(r, pr, u) if u.dynamic_power_w is not None or r.power_w else None, basis)
    results = []
    for r in kept:
        decl = declared[(r.device, r.unit)]
        u = unit_model(decl, fits[decl.device_class], modes[r.id])
        pr = predict_row(r, work[r.id], u)
        ht, he, hb = held[r.id]
        results.append(RowResult(r, _label(r, work[r.id]), pr.time_s, ht, hb, _measured_energy(r),
                                 _energy(r, pr, u), he))
    return FidelityReport(tuple(results), MappingProxyType({k: tuple(v) for k, v in excluded.items()}),
                          MappingProxyType(fits), MappingProxyType(declared), len(rows))


def _label(r: PublishedRow, w: StepRows) -> str:
    return f"{r.model} b{r.batch} {r.precision}"
