"""Plain records of a calibration: what each benchmark computed (rows) and how long it took.

A benchmark case is priced by the cost model exactly like one training step
(:mod:`zerofl_profiler.hardware_models.cost`): a list of rows, each with FLOPs ``F``, bytes ``B``,
an op class ``c`` and a sparse scale ``s`` (the factor ``1 - e x (1 - d)`` for a sparsified row,
1 otherwise), plus ``k`` kernels::

    t = sum_r s_r * max(F_r / R[c_r], B_r / BW) + k * o

``R[c] = peak x efficiency[c]`` is the achieved FLOP/s of op class ``c``. No torch here, so the
fit can be tested on injected timings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..hardware_models.spec import OP_CLASSES, resolve_efficiency


@dataclass(frozen=True)
class BenchCase:
    """One timed benchmark: its rows, kernel count, measured median time and the spread."""

    name: str
    kind: str  # gemm | conv | elementwise | copy | topk | step | sparse_step
    flops: np.ndarray
    nbytes: np.ndarray
    op_class: np.ndarray  # int index into OP_CLASSES
    kernels: float
    time_s: float
    density: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per row (1 = dense); empty = all 1
    samples_s: tuple[float, ...] = ()
    weight: float = 1.0  # weight of this case's relative error in the fit

    @property
    def row_density(self) -> np.ndarray:
        """Per-row density d (1 for dense rows)."""
        return self.density if len(self.density) else np.ones(len(self.flops))

    @property
    def is_sparse(self) -> bool:
        """Whether any row runs at a density below one (its time depends on the sparse efficiency)."""
        return bool(np.any(self.row_density < 1.0))

    @property
    def spread(self) -> float:
        """Relative spread of the repeated measurements: (p90 - p10) / median (0 if one sample)."""
        if len(self.samples_s) < 2 or self.time_s <= 0:
            return 0.0
        lo, hi = np.percentile(self.samples_s, [10, 90])
        return float((hi - lo) / self.time_s)

    def with_time(self, time_s: float) -> "BenchCase":
        """The same case with another measured time (for injected-timing tests)."""
        from dataclasses import replace

        return replace(self, time_s=float(time_s), samples_s=())

    def to_json(self) -> dict[str, Any]:
        """Summary for `calibrate --json` (rows are summed, not listed)."""
        return {"name": self.name, "kind": self.kind, "time_s": self.time_s, "spread": self.spread,
                "flops": float(np.sum(self.flops)), "bytes": float(np.sum(self.nbytes)),
                "kernels": self.kernels, "rows": int(len(self.flops))}


def single_row(name: str, kind: str, flops: float, nbytes: float, op_class: str, time_s: float = 0.0,
               kernels: float = 1.0, samples_s: tuple[float, ...] = (), weight: float = 1.0) -> BenchCase:
    """A case of one op (a GEMM, an elementwise op, a copy, a top-k)."""
    return BenchCase(name, kind, np.array([float(flops)]), np.array([float(nbytes)]),
                     np.array([OP_CLASSES.index(op_class)]), float(kernels), float(time_s), np.zeros(0),
                     tuple(samples_s), float(weight))


@dataclass(frozen=True)
class HostParams:
    """What the calibration fits: achieved FLOP/s per op class, bandwidth, overhead, sparse efficiency.

    ``rate_flops[c] = inf`` means the class never was compute-bound in any benchmark (its time is
    set by the bandwidth alone), so compute puts no limit on it.
    """

    rate_flops: Mapping[str, float]
    mem_bandwidth_bytes_per_s: float
    kernel_overhead_s: float
    sparse_efficiency: float

    def rate(self, op_class: str) -> float:
        """R[c]; a class the fit never saw takes its fallback class's rate (EFFICIENCY_FALLBACK)."""
        return float(resolve_efficiency(self.rate_flops, op_class))

    def inv_rates(self) -> np.ndarray:
        """1 / R[c] in OP_CLASSES order (0 for an unlimited class)."""
        return np.array([1.0 / self.rate(c) for c in OP_CLASSES])  # 1/inf = 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (infinite rates as null)."""
        return {"rate_flops": {c: (v if np.isfinite(v) else None) for c, v in self.rate_flops.items()},
                "mem_bandwidth_bytes_per_s": self.mem_bandwidth_bytes_per_s,
                "kernel_overhead_s": self.kernel_overhead_s, "sparse_efficiency": self.sparse_efficiency}
