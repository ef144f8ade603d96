"""Fit device models to published training measurements (docs/fidelity.md lists the parameters).

* per device class (``phone-cpu``, ``gpu``), shared by its devices: ``half_work_flops`` (h) of the
  saturating efficiency ``W / (W + h)`` (kept only when it beats flat efficiency, see
  :func:`fit_class`), the optimizer-update efficiency, the elementwise efficiency (the FLOP ceiling
  of elementwise, pooling and normalisation rows, which fall back to it), and the ``gemm_grouped / gemm`` efficiency
  ratio when the rows contain grouped (depthwise) convolutions;
* per unit: ``efficiency.gemm``, ``kernel_overhead_s`` and the effective
  ``mem_bandwidth_bytes_per_s`` as far as its rows allow (more rows than parameters; with one row
  "too few rows": declared values kept);
* per power mode (a power limit below the source's highest): a clock factor on every compute peak;
* power per unit and mode: ``dynamic_power_w`` (power = idle + dynamic x utilisation) from rows
  with an average board power or with energy above the idle baseline; rows measured under load
  cannot separate idle from dynamic power, so the declared ``idle_power_w`` is kept.

Time is fitted in log space (every row counts by its ratio, a 10 ms step as much as a 1 s step)
by damped Gauss-Newton on a numeric Jacobian. numpy only; the workloads come from
:mod:`.workloads` (torch), computed once per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import numpy as np

from ...hardware_models.records import DeviceProfile
from ...hardware_models.workload import StepRows, class_index
from ..predict import IdentityMemo, StepPrice, price_step, with_fields
from .declared import DeclaredUnit
from .rows import PublishedRow

#: a fitted unit: (device, unit, power mode or None)
Key = tuple[str, str, "str | None"]
#: starting half-work point per class (FLOPs); the fit moves it
H_START = {"phone-cpu": 1e8, "phone-gpu": 1e8, "gpu": 1e10, "jetson-gpu": 1e9, "jetson-cpu": 1e8}
G_START = 0.3
#: op classes whose efficiency a device class shares and fits, with its starting value (elementwise
#: is also the ceiling of pooling and normalisation rows, which fall back to it)
CLASS_EFFICIENCY_START = {"optimizer": 0.05, "elementwise": 0.05}
#: starting points of an async unit's overhead, as multiples of its declared value (the first wins ties)
OVERHEAD_STARTS = (1.0, 4.0)
#: relative drop of the rms log error that keeps the size-aware curve (else flat efficiency) ...
CURVE_GAIN = 0.1
#: ... and the least absolute drop (a fit already exact cannot be improved by a curve) ...
CURVE_MIN_DROP = 0.01
#: ... and the fewest networks in the rows (one network's sizes do not identify a shared shape)
CURVE_MIN_MODELS = 2


@dataclass(frozen=True)
class DeviceFit:
    """Fitted parameters of one unit and the rows they came from."""

    device: str
    unit: str
    mode: str | None  # a power-limit mode ("150W"), None for the unit's default
    runtime: str
    status: str  # "fitted" | "too few rows" | "transferred" (carried over from its class: transfer.py)
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
    sources: tuple[str, ...] = ()  # a transferred unit: the fitted devices its values came from ...
    power_sources: tuple[str, ...] = ()  # ... and those its dynamic power came from, as a fraction of
    power_basis: str | None = None  # ... "board_power_w" or "active_power_w" (transfer.py)

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return {"device": self.device, "unit": self.unit, "mode": self.mode, "clock": self.clock,
                "runtime": self.runtime, "status": self.status,
                "efficiency_gemm": self.gemm_efficiency, "kernel_overhead_s": self.kernel_overhead_s,
                "mem_bandwidth_bytes_per_s": self.mem_bandwidth_bytes_per_s,
                "fitted": list(self.fitted), "rows": list(self.rows), "idle_power_w": self.idle_power_w,
                "dynamic_power_w": self.dynamic_power_w, "power_status": self.power_status,
                "power_fitted": list(self.power_fitted), "power_rows": list(self.power_rows),
                "sources": list(self.sources), "power_sources": list(self.power_sources),
                "power_basis": self.power_basis}


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
    elementwise_efficiency: float | None = None

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return {"device_class": self.device_class, "half_work_flops": self.half_work_flops,
                "grouped_ratio": self.grouped_ratio, "optimizer_efficiency": self.optimizer_efficiency,
                "elementwise_efficiency": self.elementwise_efficiency,
                "fitted": list(self.fitted),
                "rms_log_error": self.rms_log_error,
                "devices": [d.to_json() for d in self.devices.values()]}


def unit_model(decl: DeclaredUnit, cls: ClassFit | None, mode: str | None = None) -> DeviceProfile:
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
    if cls.elementwise_efficiency is not None:
        eff["elementwise"] = cls.elementwise_efficiency
    u = with_fields(decl.model, efficiency=MappingProxyType(eff), kernel_overhead_s=d.kernel_overhead_s,
                    mem_bandwidth_bytes_per_s=d.mem_bandwidth_bytes_per_s,
                    half_work_flops=cls.half_work_flops or 0.0, idle_power_w=d.idle_power_w,
                    dynamic_power_w=d.dynamic_power_w)
    m = cls.devices.get((decl.device, decl.unit, mode)) if mode else None
    return _in_mode(u, m.clock, m.dynamic_power_w if m.dynamic_power_w is not None else u.dynamic_power_w) \
        if m is not None else u


def _in_mode(u: DeviceProfile, clock: float, dynamic_power_w: float | None) -> DeviceProfile:
    """A unit under a power limit: every compute peak times ``clock`` (bandwidth and dispatch unchanged)."""
    return with_fields(u, peak_flops=u.peak_flops * clock,
                       peaks=MappingProxyType({k: v * clock for k, v in u.peaks.items()}),
                       dynamic_power_w=dynamic_power_w)


_IN_PRECISION = IdentityMemo()


def predict_row(row: PublishedRow, work: StepRows, unit: DeviceProfile) -> StepPrice:
    """Price a published row: its workload on the unit in the row's precision (DeviceProfile.with_precision)."""
    return price_step(work, _IN_PRECISION.get(unit, row.precision, lambda: unit.with_precision(row.precision)))


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(max(x, -60.0), 60.0)))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def gauss_newton(resid: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, iters: int = 60,
                 resid_rows: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                 touches: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
    """Minimise ||resid(x)||^2 by Levenberg-Marquardt with a forward-difference Jacobian.

    ``touches[j]`` (with ``resid_rows(x, idx)``, the residuals of rows ``idx`` only) names the rows
    parameter ``j`` can change, None for all: a device's own parameters move only its rows, so their
    columns are differenced on those rows alone (the other entries are exactly 0).
    """
    x = np.asarray(x0, dtype=np.float64).copy()
    r = resid(x)
    cost = float(r @ r)
    lam = 1e-2
    for _ in range(iters):
        jac = np.zeros((len(r), len(x)))
        for j in range(len(x)):
            dx = np.zeros_like(x)
            dx[j] = 1e-5 * max(1.0, abs(x[j]))
            idx = touches[j] if touches is not None and resid_rows is not None else None
            if idx is None:
                jac[:, j] = (resid(x + dx) - r) / dx[j]
            else:
                jac[idx, j] = (resid_rows(x + dx, idx) - r[idx]) / dx[j]
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
    more than ``CURVE_GAIN`` (and ``CURVE_MIN_DROP``) over a flat-efficiency fit with the same other
    parameters, and only when the rows hold at least ``CURVE_MIN_MODELS`` networks: the curve is a
    shape shared across networks, and one network's layer sizes cannot tell it apart from that
    network's own kernels.
    """
    modes = modes or {}
    flat = _fit_class(device_class, rows, work, declared, modes, curve=False)
    if not flat.fitted and not any(d.status == "fitted" for d in flat.devices.values()):
        return flat
    if len({r.model for r in rows}) < CURVE_MIN_MODELS:
        return flat
    curved = _fit_class(device_class, rows, work, declared, modes, curve=True)
    if "half_work" in curved.fitted and curved.rms_log_error < (1 - CURVE_GAIN) * flat.rms_log_error \
            and flat.rms_log_error - curved.rms_log_error > CURVE_MIN_DROP:
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
    grouped = class_index("gemm_grouped")
    has_grouped = any(float(work[r.id].flops_dense[work[r.id].row_class == grouped].sum()) > 0 for r in fitted_rows)
    shared = (["half_work"] if curve else []) + list(CLASS_EFFICIENCY_START) + (["grouped"] if has_grouped else [])
    if len(fitted_rows) <= len(layout) + len(shared):
        shared = []
    if len(fitted_rows) <= len(layout):
        layout = []
        fitted_rows = []
    names = shared + [f"{k}:{p}" for k, p in layout]

    def unpack(x: np.ndarray) -> tuple[dict[str, float], dict[Key, dict[str, float]]]:
        """Shared values by name (half_work in FLOPs, the rest fractions) and per-unit values."""
        sh = {n: (math.exp(min(max(x[i], 0.0), 60.0)) if n == "half_work" else _sig(x[i]))
              for i, n in enumerate(shared)}
        per: dict[Key, dict[str, float]] = {}
        for i, (key, p) in enumerate(layout):
            v = x[len(shared) + i]
            per.setdefault(key, {})[p] = _sig(v) if p in ("scale", "clock") else math.exp(min(max(v, -60.0), 60.0))
        return sh, per

    def units(x: np.ndarray) -> dict[Key, DeviceProfile]:
        sh, per = unpack(x)
        out: dict[Key, DeviceProfile] = {}
        for (dev, unit), decl in declared.items():
            key = (dev, unit, None)
            if not any(k[:2] == (dev, unit) for k in by_dev):
                continue
            p = per.get(key, {})
            eff = dict(decl.model.efficiency)
            s = p.get("scale", eff["gemm"])
            eff["gemm"] = s
            if "grouped" in sh:
                eff["gemm_grouped"] = s * sh["grouped"]
            for name in CLASS_EFFICIENCY_START:
                if name in sh:
                    eff[name] = sh[name]
            out[key] = with_fields(
                decl.model, efficiency=MappingProxyType(eff),
                kernel_overhead_s=p.get("overhead", decl.model.kernel_overhead_s),
                mem_bandwidth_bytes_per_s=p.get("bandwidth", decl.model.mem_bandwidth_bytes_per_s),
                half_work_flops=sh.get("half_work", 0.0))
            for k in by_dev:
                if k[:2] == (dev, unit) and k[2] is not None:
                    out[k] = _in_mode(out[key], per.get(k, {}).get("clock", 1.0), None)
        return out

    meas = np.log(np.array([r.step_s for r in fitted_rows]))

    def resid(x: np.ndarray) -> np.ndarray:
        u = units(x)
        pred = np.array([predict_row(r, work[r.id], u[key_of(r)]).time_s for r in fitted_rows])
        return np.log(pred) - meas

    def resid_rows(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        u = units(x)
        pred = np.array([predict_row(fitted_rows[i], work[fitted_rows[i].id], u[key_of(fitted_rows[i])]).time_s
                         for i in idx])
        return np.log(pred) - meas[idx]

    # the rows each parameter can move: shared ones all; a unit's its own and its modes'; a mode's its own
    keys = [key_of(r) for r in fitted_rows]
    touches: list[np.ndarray | None] = [None] * len(shared) + [
        np.array([i for i, k in enumerate(keys) if (k[:2] == key[:2] if key[2] is None else k == key)], dtype=np.int64)
        for key, _ in layout]

    start = {"half_work": math.log(H_START.get(device_class, 1e9)), "grouped": _logit(G_START),
             **{n: _logit(v) for n, v in CLASS_EFFICIENCY_START.items()}}
    x0 = [start[n] for n in shared]
    for key, p in layout:
        d = declared[key[:2]].model
        x0.append(_logit(d.efficiency["gemm"]) if p == "scale" else _logit(0.8) if p == "clock"
                  else math.log(d.kernel_overhead_s) if p == "overhead"
                  else math.log(d.mem_bandwidth_bytes_per_s))
    x = np.array(x0)
    if names:
        # a few starting points for h: the objective is not convex in it; nor, under async dispatch,
        # in the overhead (max(device, dispatch) is flat in it wherever every row is device-bound),
        # so such units also start from OVERHEAD_STARTS times their declared value
        best = None
        ovh = [i for i, (key, p) in enumerate(layout) if p == "overhead"
               and declared[key[:2]].model.dispatch == "async"]
        for h0 in ((None,) if "half_work" not in shared else (1e6, 1e8, 1e10)):
            for o0 in (OVERHEAD_STARTS if ovh else (1.0,)):
                xs = x.copy()
                if h0 is not None:
                    xs[0] = math.log(h0)
                for i in ovh:
                    xs[len(shared) + i] += math.log(o0)
                xf = gauss_newton(resid, xs, resid_rows=resid_rows, touches=touches)
                c = float(np.sum(resid(xf) ** 2))
                if best is None or c < best[0] - 1e-9 * max(1.0, abs(best[0])):
                    best = (c, xf)
        x = best[1]
    sh, per = unpack(x)
    u = units(x)
    devices = {}
    for key, rs in sorted(by_dev.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        decl = declared[key[:2]]
        p = per.get(key, {})
        devices[key] = _power_fit(DeviceFit(
            device=key[0], unit=key[1], mode=key[2], clock=p.get("clock", 1.0), runtime=decl.runtime,
            status="fitted" if p else "too few rows",
            gemm_efficiency=u[key].efficiency["gemm"], kernel_overhead_s=u[key].kernel_overhead_s,
            mem_bandwidth_bytes_per_s=u[key].mem_bandwidth_bytes_per_s,
            fitted=tuple(sorted(p)), rows=tuple(r.id for r in rs) if p else (),
            idle_power_w=decl.model.idle_power_w, dynamic_power_w=None, power_status="no power rows"),
            rs, work, u[key])
    rms = float(np.sqrt(np.mean(resid(x) ** 2))) if fitted_rows else float("nan")
    return ClassFit(device_class, sh.get("half_work"), sh.get("grouped"), sh.get("optimizer"), tuple(shared),
                    MappingProxyType(devices), rms, sh.get("elementwise"))


def _power_fit(d: DeviceFit, rows: Sequence[PublishedRow], work: Mapping[str, StepRows], unit: DeviceProfile) -> DeviceFit:
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


def fit_all(rows: Sequence[PublishedRow], work: Mapping[str, StepRows],
            declared: Mapping[tuple[str, str], DeclaredUnit], modes: Mapping[str, str | None]) -> dict[str, ClassFit]:
    """One fit per device class over the given comparable rows."""
    by_cls: dict[str, list[PublishedRow]] = {}
    for r in rows:
        by_cls.setdefault(declared[(r.device, r.unit)].device_class, []).append(r)
    return {c: fit_class(c, rs, work, declared, modes) for c, rs in sorted(by_cls.items())}
