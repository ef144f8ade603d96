"""How much of a FLOP saving a real sparse kernel turns into time on this host, per density.

The cost model prices a sparse product as `t = t_dense x (1 - e(d) x (1 - d))`, with `e(d)` the
sparse efficiency at density `d` (0: no time saved, 1: time falls with the FLOPs). Here `e(d)` is
measured: the forward and backward of a SWAT linear layer of a representative shape (the three
products the cost model scales) on CSR kernels at weight and activation density `d` (the
conversions included, since SWAT's masks change every step) against the same layer on dense
kernels, timed in interleaved rounds; `e = (1 - t_sparse / t_dense) / (1 - d)`, and 0 where the
sparse kernel is slower (the dense kernel wins there: never a negative saving).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

DENSITY_GRID = (0.5, 0.2, 0.1, 0.05, 0.01)
#: (outputs, inputs, rows): a ResNet-18 layer4 3x3 conv lowered to a GEMM at batch 32 (512 output
#: channels, 512 x 3 x 3 reduction, 32 x 4 x 4 output positions).
DEFAULT_SHAPE = (512, 4608, 512)
#: `calibrate --quick`: the same layer at batch 8 (a quarter of the rows; rougher, about 4x faster).
QUICK_SHAPE = (512, 4608, 128)


@dataclass(frozen=True)
class SparsePoint:
    """One density of the curve: median times, speed-up over dense, and the efficiency it implies."""

    density: float
    dense_s: float
    sparse_s: float
    speedup: float
    efficiency: float


@dataclass(frozen=True)
class SparseCurve:
    """A measured sparse-efficiency curve of one kernel on one host."""

    kernel: str
    shape: tuple[int, int, int]
    rounds: int
    threads: int
    points: tuple[SparsePoint, ...]
    clock: str = "wall"
    wall_s: float = 0.0  # how long the measurement took
    level: str = "layer"  # layer: the three products of a SWAT linear layer; gemm: the forward product alone

    @property
    def densities(self) -> list[float]:
        """Ascending densities, as the device file stores them."""
        return [p.density for p in sorted(self.points, key=lambda p: p.density)]

    @property
    def efficiencies(self) -> list[float]:
        """Efficiencies in the order of `densities`."""
        return [p.efficiency for p in sorted(self.points, key=lambda p: p.density)]

    def break_even_density(self) -> float | None:
        """The highest measured density at which the sparse kernel beats dense (the device file's rule)."""
        from ..hardware_models.records import break_even_density

        return break_even_density(self.densities, self.efficiencies)

    def quote(self) -> str:
        """The measurement in one line, for the device file's source."""
        pts = "; ".join(f"d={p.density:g}: dense {p.dense_s * 1e3:.3g} ms, {self.kernel} {p.sparse_s * 1e3:.3g} ms "
                        f"(x{p.speedup:.2f})" for p in sorted(self.points, key=lambda p: -p.density))
        m, k, n = self.shape
        what = (f"SWAT linear layer forward + backward, {m} outputs x {k} inputs x {n} rows" if self.level == "layer"
                else f"forward GEMM {m}x{k} @ {k}x{n}")
        return (f"{what}, float32, {self.threads} thread(s), {self.clock} clock, medians of {self.rounds} "
                f"interleaved rounds: {pts}")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (`calibrate --json`)."""
        return {"kernel": self.kernel, "shape": list(self.shape), "rounds": self.rounds, "threads": self.threads,
                "clock": self.clock, "level": self.level, "wall_s": self.wall_s, "break_even_density": self.break_even_density(),
                "points": [dict(p.__dict__) for p in sorted(self.points, key=lambda p: -p.density)]}


def efficiency(density: float, speedup: float) -> float:
    """Share of the FLOP saving that became time at this density (0 when sparse is slower)."""
    if density >= 1.0 or speedup <= 1.0:
        return 0.0
    return min(1.0, (1.0 - 1.0 / speedup) / (1.0 - density))


def _layer_step(fn: Any, x: torch.Tensor, w: torch.Tensor, x_sp: torch.Tensor, w_sp: torch.Tensor
                ) -> Callable[[], object]:
    """One forward + backward of a SWAT linear autograd function: its three products."""
    xa, wa = x.clone().requires_grad_(True), w.clone().requires_grad_(True)

    def step() -> None:
        xa.grad = wa.grad = None
        fn.apply(xa, wa, None, x_sp, w_sp).sum().backward()
    return step


def measure_csr_curve(densities: Sequence[float] = DENSITY_GRID, shape: tuple[int, int, int] = DEFAULT_SHAPE,
                      rounds: int = 5, seed: int = 0, clock: str = "wall", min_sample_s: float = 0.01,
                      progress: Callable[[str], None] | None = None, level: str = "layer") -> SparseCurve:
    """Dense vs CSR at each density (weight and activation density equal), interleaved over ``rounds``.

    ``level="layer"`` (what the device file gets): forward + backward of a SWAT linear layer with
    ``shape[0]`` outputs, ``shape[1]`` inputs and ``shape[2]`` rows, i.e. the three products of a
    training step, on CSR (``CsrLinearFn``: weights and activations converted every call) against the same layer on dense kernels (``SwatLinearFn``); this is what the cost
    model scales by ``e(d)``. ``level="gemm"``: the forward product alone. One dense case (its time
    does not depend on the zeros it multiplies) and one CSR case per density run once per round in a
    rotating order (``timing.time_interleaved``) on ``clock`` (``cpu`` needs one torch thread).
    """
    from ..sparse.functions import SwatLinearFn
    from ..sparse.kernels import CsrLinearFn, _spmm
    from ..sparse.masks import topk_mask, topk_sparsify
    from .timing import check_clock, time_interleaved

    if level not in ("layer", "gemm"):
        raise ValueError(f"level must be 'layer' or 'gemm', got {level!r}")
    clock_fn = check_clock(clock, torch.get_num_threads())
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    m, k, n = shape
    w = torch.randn(m, k, generator=gen)
    x = torch.randn(n, k, generator=gen)  # rows x inputs, as a linear layer sees its batch
    w_sp = {d: w * topk_mask(w, d) for d in densities}
    x_sp = {d: topk_sparsify(x, d) for d in densities}
    d0 = densities[0]
    cases: dict[str, Callable[[], object]] = {}
    if level == "layer":
        cases["dense"] = _layer_step(SwatLinearFn, x, w, x_sp[d0], w_sp[d0])
        for d in densities:
            cases[f"csr@{d:g}"] = _layer_step(CsrLinearFn, x, w, x_sp[d], w_sp[d])
    else:
        xt = x.t().contiguous()
        cases["dense"] = lambda: w_sp[d0] @ xt
        for d in densities:
            cases[f"csr@{d:g}"] = (lambda wd: lambda: _spmm(wd, xt))(w_sp[d])
    what = "SWAT linear layer forward + backward" if level == "layer" else "forward GEMM"
    if progress:
        progress(f"timing a {what} ({m} outputs, {k} inputs, {n} rows) dense vs CSR at densities "
                 f"{', '.join(f'{d:g}' for d in densities)} x {rounds} interleaved rounds")
    t = time_interleaved(cases, rounds, min_sample_s=min_sample_s, max_inner=50, clock=clock_fn)
    td = t["dense"].median_s
    points = []
    for d in densities:
        ts = t[f"csr@{d:g}"].median_s
        points.append(SparsePoint(d, td, ts, td / ts, efficiency(d, td / ts)))
    return SparseCurve("csr", shape, rounds, torch.get_num_threads(), tuple(points), clock,
                       time.perf_counter() - t0, level)


def curve_entry(curve: SparseCurve, ref: str) -> dict[str, Any]:
    """The device file's ``sparse_efficiency_curve`` of a measured curve (ascending densities, measured source)."""
    return {"density": curve.densities, "efficiency": [round(e, 4) for e in curve.efficiencies],
            "source": {"kind": "measured", "ref": f"{ref}: {curve.kernel.upper()} kernels for the three products of a "
                                                  f"SWAT linear layer (weights and activations converted every call, "
                                                  f"as SWAT's masks change every step) against the same layer on "
                                                  f"dense kernels",
                       "quote": curve.quote()}}
