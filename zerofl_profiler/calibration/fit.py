"""Fit the host's cost-model parameters to measured benchmark times (pure numpy, no torch).

The model is the cost model's own (see :mod:`.cases`)::

    t_i = sum_r s_r * max(F_r * x[c_r], B_r / BW) + k_i * o,    x[c] = 1 / R[c]

Steps, each a small least-squares problem in *relative* error (weights w_i / t_i, so a 50 us
op counts as much as a 1 s training step; ``BenchCase.weight`` is w_i):

1. A first ``BW`` from the memory-copy cases alone: ``t = B / BW + c`` (non-negative LS); it is
   reported as the copy bandwidth and seeds step 2.
2. ``x`` (one per op class), ``y = 1 / BW`` and ``o`` from every case: which term of each
   row's ``max`` is active depends on ``x`` and ``y``, so we alternate: assign every row to
   compute or memory, solve the non-negative linear LS in ``(x, y, o)``, re-assign, until the
   assignment repeats (the exact objective is tracked, the best solution kept). Copies (no
   FLOPs) are always memory rows; the fitted BW is the effective one of the whole set.
3. The sparse efficiency ``e`` from the sparse cases, with everything else fixed:
   ``t = base - e * a`` with ``a = sum_r roof_r (1 - d_r)``, closed form, clipped to [0, 1].
   Steps 2 and 3 alternate a few times (``s_r`` depends on ``e``).

Injected timings generated from known parameters are recovered exactly (tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import BadInputError
from ..hardware_models.spec import OP_CLASSES, REQUIRED_OP_CLASSES
from .cases import BenchCase, HostParams

N_CLASSES = len(OP_CLASSES)


def nnls(a: np.ndarray, b: np.ndarray, max_iter: int = 200) -> np.ndarray:
    """Non-negative least squares min ||a x - b|| s.t. x >= 0 (Lawson-Hanson active set)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    m, n = a.shape
    norms = np.linalg.norm(a, axis=0)
    scale = np.where(norms > 0, norms, 1.0)
    a_s = a / scale
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    tol = 1e-12 * max(1.0, float(np.abs(a_s).max(initial=0.0))) * max(m, n)
    for _ in range(max_iter):
        w = a_s.T @ (b - a_s @ x)
        cand = (~passive) & (w > tol) & (norms > 0)
        if not cand.any():
            break
        passive[np.argmax(np.where(cand, w, -np.inf))] = True
        for _ in range(max_iter):
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a_s[:, passive], b, rcond=None)[0]
            if np.all(z[passive] > 0):
                x = z
                break
            bad = passive & (z <= 0)
            alpha = np.min(x[bad] / (x[bad] - z[bad]))
            x = x + alpha * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
    return x / scale


def predict(case: BenchCase, params: HostParams) -> float:
    """Model time of one case under the given parameters (the cost model's equation)."""
    return float(_predict(case, params.inv_rates(), params.mem_bandwidth_bytes_per_s, params.kernel_overhead_s,
                          params.sparse_efficiency))


def _roof(case: BenchCase, x: np.ndarray, bw: float) -> np.ndarray:
    return np.maximum(case.flops * x[case.op_class], case.nbytes / bw)


def _scale(case: BenchCase, e: float) -> np.ndarray:
    return 1.0 - e * (1.0 - case.row_density)


def _predict(case: BenchCase, x: np.ndarray, bw: float, o: float, e: float) -> float:
    return float(np.sum(_scale(case, e) * _roof(case, x, bw)) + case.kernels * o)


def _objective(cases: Sequence[BenchCase], x: np.ndarray, bw: float, o: float, e: float) -> float:
    r = [c.weight * (_predict(c, x, bw, o, e) - c.time_s) / c.time_s for c in cases]
    return float(np.sum(np.square(r)))


def fit_bandwidth(cases: Sequence[BenchCase]) -> tuple[float, float]:
    """(BW, o) from memory-copy cases: t = B / BW + o, non-negative, in relative error."""
    copies = [c for c in cases if c.kind == "copy"]
    if len(copies) < 2:
        raise BadInputError("calibration needs at least two memory-copy benchmarks to fit the bandwidth")
    t = np.array([c.time_s for c in copies])
    a = np.array([[float(np.sum(c.nbytes)), 1.0] for c in copies]) / t[:, None]
    y, o = nnls(a, np.ones(len(copies)))  # o: a fixed cost per copy (launch), not the model's overhead
    if y <= 0:
        raise BadInputError("memory-copy benchmarks show no dependence on size; cannot fit the bandwidth")
    return 1.0 / y, o


def _fit_rates(cases: Sequence[BenchCase], e: float, x0: np.ndarray, y0: float,
               max_iter: int = 60) -> tuple[np.ndarray, float, float, int]:
    """(x per class, y = 1/BW, o) with e fixed; alternating compute/memory assignment of the rows."""
    t = np.array([c.time_s for c in cases]) / np.array([c.weight for c in cases])
    x, y = x0.copy(), y0
    best: tuple[float, np.ndarray, float, float, int] | None = None
    seen: set[bytes] = set()
    for it in range(1, max_iter + 1):
        m = np.zeros((len(cases), N_CLASSES + 2))
        masks = []
        for i, c in enumerate(cases):
            s = _scale(c, e)
            comp = (c.flops * x[c.op_class] >= c.nbytes * y) & (c.flops > 0)
            masks.append(comp)
            np.add.at(m[i], c.op_class[comp], (s * c.flops)[comp])
            m[i, N_CLASSES] = float(np.sum((s * c.nbytes)[~comp]))
            m[i, N_CLASSES + 1] = c.kernels
        sol = nnls(m / t[:, None], np.array([c.time_s for c in cases]) / t)  # rows scaled by weight / t
        x, y, o = sol[:N_CLASSES], float(sol[N_CLASSES]), float(sol[N_CLASSES + 1])
        obj = _objective(cases, x, 1.0 / y if y > 0 else np.inf, o, e)
        if best is None or obj < best[0]:
            best = (obj, x.copy(), y, o, it)
        key = np.concatenate(masks).tobytes()
        if key in seen:
            break
        seen.add(key)
    assert best is not None
    return best[1], best[2], best[3], best[4]


def _golden_min(f: Callable[[float], float], lo: float, hi: float, grid: int = 11, tol: float = 1e-7) -> float:
    """Minimiser of f on [lo, hi]: the best of a coarse grid, refined by golden-section search."""
    pts = np.linspace(lo, hi, grid)
    vals = [f(float(p)) for p in pts]
    k = int(np.argmin(vals))
    a, b = float(pts[max(k - 1, 0)]), float(pts[min(k + 1, grid - 1)])
    g = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    best = min([(vals[k], float(pts[k])), (fc, c), (fd, d)])
    return best[1]


@dataclass(frozen=True)
class FitResult:
    """Fitted parameters, per-case relative errors and which op classes the data determined."""

    params: HostParams
    rel_errors: dict[str, float]
    measured_classes: tuple[str, ...]
    sparse_measured: bool
    copy_bandwidth_bytes_per_s: float
    iterations: int

    @property
    def mape(self) -> float:
        """Mean absolute relative error of the fit on its own cases (in-sample)."""
        return float(np.mean(np.abs(list(self.rel_errors.values())))) if self.rel_errors else 0.0


def fit_host(cases: Sequence[BenchCase]) -> FitResult:
    """Fit HostParams to timed cases (at least two memory copies, for the first bandwidth guess)."""
    cases = [c for c in cases if c.time_s > 0 and c.weight > 0]
    if not cases:
        raise BadInputError("calibration has no timed benchmark cases to fit")
    bw_copy, o_copy = fit_bandwidth(cases)
    x0 = np.full(N_CLASSES, 1e-8)  # start slow: every row compute-bound, so every class gets a column
    y0 = 1.0 / bw_copy
    it_total = 0

    def profile(e: float) -> tuple[float, np.ndarray, float, float]:
        nonlocal it_total
        x, y, o, its = _fit_rates(cases, e, x0, y0)
        it_total += its
        return _objective(cases, x, 1.0 / y if y > 0 else np.inf, o, e), x, y, o

    e = 0.0
    if any(c.is_sparse for c in cases):
        e = _golden_min(lambda v: profile(v)[0], 0.0, 1.0)
    _, x, y, o = profile(e)
    bw = 1.0 / y if y > 0 else bw_copy
    measured = []
    for k, cls in enumerate(OP_CLASSES):
        # measured = some row of the class is strictly compute-bound; at or below the ridge the
        # rate is only a lower bound and changes no prediction, so the class gets no limit
        strict = any(np.any((c.op_class == k) & (c.flops * x[k] > (1 + 1e-6) * c.nbytes / bw) & (c.flops > 0))
                     for c in cases)
        if x[k] > 0 and strict:
            measured.append(cls)
        else:
            x[k] = 0.0
    # a class no case has rows of is left out: it takes its fallback class's rate (EFFICIENCY_FALLBACK)
    present = {int(k) for c in cases for k in np.unique(c.op_class[c.flops > 0])}
    rates = {cls: (1.0 / float(x[k]) if x[k] > 0 else float("inf")) for k, cls in enumerate(OP_CLASSES)
             if k in present or cls in REQUIRED_OP_CLASSES}
    params = HostParams(rates, float(bw), float(o), float(e))
    rel = {c.name: (predict(c, params) - c.time_s) / c.time_s for c in cases}
    return FitResult(params, rel, tuple(measured), any(c.is_sparse for c in cases), float(bw_copy), it_total)
