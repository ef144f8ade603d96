"""How much of a FLOP saving a real sparse kernel turns into time on this host, per density.

The cost model prices a sparse product as `t = t_dense x (1 - e(d) x (1 - d))`, with `e(d)` the
sparse efficiency at density `d` (0: no time saved, 1: time falls with the FLOPs). Here `e(d)` is
measured: a dense GEMM of a representative SWAT layer shape against the same product with the
weight at density `d` in CSR (the conversion included, since SWAT's masks change every step),
timed in alternating rounds; `e = (1 - t_sparse / t_dense) / (1 - d)`, and 0 where the sparse
kernel is slower (the dense kernel wins there: never a negative saving).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

DENSITY_GRID = (0.5, 0.2, 0.1, 0.05, 0.01)
#: (M, K, N) of the product: a ResNet-18 layer4 3x3 conv lowered to a GEMM at batch 32 (512 output
#: channels, 512 x 3 x 3 reduction, 32 x 4 x 4 output positions).
DEFAULT_SHAPE = (512, 4608, 512)


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

    @property
    def densities(self) -> list[float]:
        """Ascending densities, as the device file stores them."""
        return [p.density for p in sorted(self.points, key=lambda p: p.density)]

    @property
    def efficiencies(self) -> list[float]:
        """Efficiencies in the order of `densities`."""
        return [p.efficiency for p in sorted(self.points, key=lambda p: p.density)]

    def break_even_density(self) -> float | None:
        """The highest measured density at which the sparse kernel beats dense."""
        faster = [p.density for p in self.points if p.speedup > 1.0]
        return max(faster) if faster else None

    def quote(self) -> str:
        """The measurement in one line, for the device file's source."""
        pts = "; ".join(f"d={p.density:g}: dense {p.dense_s * 1e3:.3g} ms, {self.kernel} {p.sparse_s * 1e3:.3g} ms "
                        f"(x{p.speedup:.2f})" for p in sorted(self.points, key=lambda p: -p.density))
        m, k, n = self.shape
        return (f"{m}x{k} @ {k}x{n} float32, {self.threads} thread(s), medians of {self.rounds} alternating "
                f"rounds: {pts}")


def efficiency(density: float, speedup: float) -> float:
    """Share of the FLOP saving that became time at this density (0 when sparse is slower)."""
    if density >= 1.0 or speedup <= 1.0:
        return 0.0
    return min(1.0, (1.0 - 1.0 / speedup) / (1.0 - density))


def _time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def measure_csr_curve(densities: Sequence[float] = DENSITY_GRID, shape: tuple[int, int, int] = DEFAULT_SHAPE,
                      rounds: int = 5, repeats: int = 3, seed: int = 0) -> SparseCurve:
    """Dense GEMM vs CSR GEMM (conversion included) at each density, in alternating rounds."""
    from ..sparse.kernels import _spmm
    from ..sparse.masks import topk_mask

    gen = torch.Generator().manual_seed(seed)
    m, k, n = shape
    w = torch.randn(m, k, generator=gen)
    x = torch.randn(k, n, generator=gen)
    masked = {d: w * topk_mask(w, d) for d in densities}
    dense_t: dict[float, list[float]] = {d: [] for d in densities}
    sparse_t: dict[float, list[float]] = {d: [] for d in densities}
    for fn in (lambda: masked[densities[0]] @ x, lambda: _spmm(masked[densities[0]], x)):
        fn()  # warm-up: first-call allocations and thread pools
    for _ in range(rounds):
        for d in densities:
            wd = masked[d]
            dense_t[d].append(_time(lambda: wd @ x, repeats))
            sparse_t[d].append(_time(lambda: _spmm(wd, x), repeats))
    points = []
    for d in densities:
        td, ts = statistics.median(dense_t[d]), statistics.median(sparse_t[d])
        points.append(SparsePoint(d, td, ts, td / ts, efficiency(d, td / ts)))
    return SparseCurve("csr", shape, rounds, torch.get_num_threads(), tuple(points))


def curve_toml(curve: SparseCurve, source_key: str = "sparse_measured") -> tuple[str, str]:
    """(unit line, source table) in the device-file format: sparse_efficiency_curve with a measured source."""
    dens = ", ".join(f"{d:g}" for d in curve.densities)
    effs = ", ".join(f"{e:.4g}" for e in curve.efficiencies)
    line = f'sparse_efficiency_curve = {{density = [{dens}], efficiency = [{effs}], source = "{source_key}"}}'
    src = (f'[sources.{source_key}]\nkind = "measured"\n'
           f'ref = "zerofl-profile calibrate: {curve.kernel} sparse GEMM against dense on this host"\n'
           f'quote = "{curve.quote()}"\n')
    return line, src
