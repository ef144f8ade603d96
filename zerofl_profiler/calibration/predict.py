"""Price one training step with the schema-2 device fields (DEVICE_V2.md), as a pure function.

This is the seam between the published-data fit and the cost model: :class:`UnitModel` holds a
unit's v1 :class:`DeviceProfile` and the schema-2 fields of one runtime, :class:`StepRows` the work of one dense
training step (one entry per layer x phase row, as ``analysis.workload.from_layers`` builds it),
and :func:`price_step` turns both into time, utilisation, power and energy::

    eff_r   = efficiency[c_r] * W_r / (W_r + half_work_flops)      (flat efficiency[c_r] if absent)
    roof_r  = max(F_r / (P[prec(c_r)] * eff_r), B_r * b[prec(c_r)] / 4 / BW)
              P[p] = peak_flops_<p> or peak_flops; b[p] = bytes per element (FP16/BF16 move half the bytes)
    t       = sum_r roof_r + sum_r k_r * kernel_overhead_s
    U       = sum_r w_r / t,   w_r = max(F_r / P[prec(c_r)], B_r * b[prec(c_r)] / 4 / BW)  (the higher rate)
    power   = idle_power_w + dynamic_power_w * U                    (energy = power * t)
            = active_power_w                                        (no dynamic_power_w: v1 flat power)

W_r = F_r, the row's FLOPs. Overhead time has utilisation 0. numpy only, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from ..hardware_models.spec import DeviceProfile, resolve_efficiency
from ..vocab import GEMM_CLASSES, OP_CLASSES, TOPK_CLASSES

PRECISIONS = ("fp32", "tf32", "fp16", "bf16")
#: bytes per element of each precision; the FLOP counter counts FP32 (4-byte) traffic
PRECISION_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2}
#: op classes whose tensors a 16-bit (autocast) run keeps in 16 bits: all but the top-k rows and the
#: optimizer, which keeps FP32 masters (GEMM_CLASSES, the classes a precision moves onto tensor cores, is vocab's)
HALF_TENSOR_CLASSES = tuple(c for c in OP_CLASSES if c not in TOPK_CLASSES + ("optimizer",))


@dataclass(frozen=True)
class StepRows:
    """The work of one dense training step: per row its op class, FLOPs, bytes and kernels."""

    op_class: tuple[str, ...]
    flops: np.ndarray
    nbytes: np.ndarray
    kernels: np.ndarray

    @staticmethod
    def of_profile(step: Any) -> "StepRows":
        """From an ``analysis.workload.StepProfile`` (its dense rows; top-k rows are sparse-only)."""
        return StepRows(tuple(OP_CLASSES[int(i)] for i in step.row_class),
                        np.asarray(step.flops_dense, dtype=np.float64), np.asarray(step.nbytes, dtype=np.float64),
                        np.asarray(step.kernels, dtype=np.float64))

    @cached_property
    def class_index(self) -> np.ndarray:
        """Index into OP_CLASSES of every row (computed once)."""
        return np.array([OP_CLASSES.index(c) for c in self.op_class], dtype=np.int64)

    @property
    def total_flops(self) -> float:
        """FLOPs of the step."""
        return float(self.flops.sum())


@dataclass(frozen=True)
class UnitModel:
    """A unit's v1 profile plus the schema-2 fields (DEVICE_V2.md names) its pricing needs."""

    profile: DeviceProfile
    peaks: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # peak_flops_<p>
    precision: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # op class -> p
    half_work_flops: float | None = None
    dynamic_power_w: float | None = None

    def with_fields(self, **kw: Any) -> "UnitModel":
        """A copy with fields replaced, v1 ones (DeviceProfile's) and schema-2 ones alike."""
        own = {k: kw.pop(k) for k in list(kw) if k in ("peaks", "precision", "half_work_flops", "dynamic_power_w")}
        return replace(self, profile=replace(self.profile, **kw), **own) if kw else replace(self, **own)

    @property
    def efficiency(self) -> Mapping[str, float]:
        """Per-class efficiencies (v1)."""
        return self.profile.efficiency

    @property
    def idle_power_w(self) -> float:
        """Idle board power (v1)."""
        return self.profile.idle_power_w

    def peak_for(self, op_class: str) -> float:
        """Peak FLOP/s of the precision an op class runs in (peak_flops_<p>, else peak_flops)."""
        p = self.precision.get(op_class, "fp32")
        base = self.profile.peak_flops
        return base if p == "fp32" else float(self.peaks.get(p, base))

    def bytes_scale(self, op_class: str) -> float:
        """Traffic of an op class relative to the counter's FP32 bytes."""
        return PRECISION_BYTES[self.precision.get(op_class, "fp32")] / 4.0

    def with_precision(self, precision: str) -> "UnitModel":
        """The unit as a run in ``precision`` has it: GEMM classes at that precision's peak; a 16-bit
        run (autocast) also keeps elementwise, pooling and normalisation tensors in 16 bits."""
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}")
        prec = dict(self.precision)
        classes = HALF_TENSOR_CLASSES if PRECISION_BYTES[precision] == 2 else GEMM_CLASSES
        prec.update({c: precision for c in classes})
        return replace(self, precision=MappingProxyType(prec))


@dataclass(frozen=True)
class StepPrice:
    """Time, utilisation, power and energy of one step on one unit."""

    time_s: float
    overhead_s: float
    utilisation: float
    power_w: float
    energy_j: float

    def to_json(self) -> dict[str, float]:
        """JSON-ready dict."""
        return {"time_s": self.time_s, "overhead_s": self.overhead_s, "utilisation": self.utilisation,
                "power_w": self.power_w, "energy_j": self.energy_j}


def _per_class(unit: UnitModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Efficiency, peak and byte scale of every op class (aligned with OP_CLASSES)."""
    eff = np.array([resolve_efficiency(unit.efficiency, c) for c in OP_CLASSES], dtype=np.float64)
    peak = np.array([unit.peak_for(c) for c in OP_CLASSES], dtype=np.float64)
    scale = np.array([unit.bytes_scale(c) for c in OP_CLASSES], dtype=np.float64)
    return eff, peak, scale


def row_efficiency(rows: StepRows, unit: UnitModel) -> np.ndarray:
    """Efficiency of every row: the class's, times the saturating size factor when the unit has one."""
    eff = _per_class(unit)[0][rows.class_index]
    if unit.half_work_flops:
        w = rows.flops
        eff = eff * np.divide(w, w + unit.half_work_flops, out=np.ones_like(w), where=w > 0)
    return eff


def price_step(rows: StepRows, unit: UnitModel) -> StepPrice:
    """The module docstring's equations for one step."""
    eff_c, peak_c, scale_c = _per_class(unit)
    idx = rows.class_index
    peak = peak_c[idx]
    eff = eff_c[idx]
    if unit.half_work_flops:
        w = rows.flops
        eff = eff * np.divide(w, w + unit.half_work_flops, out=np.ones_like(w), where=w > 0)
    t_c = np.divide(rows.flops, peak * eff, out=np.zeros_like(rows.flops), where=rows.flops > 0)
    t_m = rows.nbytes * scale_c[idx] / unit.profile.mem_bandwidth_bytes_per_s
    roof = np.maximum(t_c, t_m)
    work = np.where(roof > 0, np.maximum(rows.flops / peak, t_m), 0.0)  # achieved FLOP/s or byte/s over peak
    overhead = float(rows.kernels.sum()) * unit.profile.kernel_overhead_s
    t = float(roof.sum()) + overhead
    util = float(work.sum()) / t if t > 0 else 0.0
    if unit.dynamic_power_w is not None:
        power = unit.idle_power_w + unit.dynamic_power_w * util
    else:
        power = unit.profile.active_power_w
    return StepPrice(time_s=t, overhead_s=overhead, utilisation=util, power_w=power, energy_j=power * t)


def energy_above_idle(price: StepPrice, unit: UnitModel) -> float:
    """Energy of the step beyond the idle draw over the same time."""
    return price.energy_j - unit.idle_power_w * price.time_s
