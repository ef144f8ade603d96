"""The calibration fit, on injected timings generated from known parameters: it must recover them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from zerofl_profiler.calibration.cases import BenchCase, HostParams, single_row
from zerofl_profiler.calibration.fit import fit_bandwidth, fit_host, nnls, predict
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.hardware_models.spec import OP_CLASSES


def _brute_nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Reference: the best unconstrained LS over every support set whose solution is non-negative."""
    n = a.shape[1]
    best, best_x = np.inf, np.zeros(n)
    for k in range(n + 1):
        for support in itertools.combinations(range(n), k):
            x = np.zeros(n)
            if support:
                x[list(support)] = np.linalg.lstsq(a[:, support], b, rcond=None)[0]
            if np.all(x >= -1e-12):
                r = float(np.sum((a @ x - b) ** 2))
                if r < best - 1e-12:
                    best, best_x = r, x
    return best_x


@pytest.mark.parametrize("seed", range(8))
def test_nnls_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(12, 4)) * rng.uniform(1e-3, 1e3, size=4)  # badly scaled columns, like ours
    b = rng.normal(size=12)
    np.testing.assert_allclose(nnls(a, b), _brute_nnls(a, b), rtol=1e-6, atol=1e-12)


def _cases(rng: np.random.Generator, *, sparse: bool = True) -> list[BenchCase]:
    """Copies, GEMMs, elementwise, top-k, optimizer and random multi-row steps (some sparse)."""
    cases = [single_row(f"copy{n}", "copy", 0, 8 * n, "elementwise", kernels=0) for n in (2**20, 2**22, 2**24)]
    cases += [single_row(f"mm{m}", "gemm", 2 * m**3, 12 * m * m, "gemm", kernels=0) for m in (64, 128, 256, 512)]
    for n in (2**14, 2**18, 2**21):
        cases += [single_row(f"relu{n}", "elementwise", n, 8 * n, "elementwise", kernels=0),
                  single_row(f"bn{n}", "elementwise", 10 * n, 8 * n, "elementwise", kernels=0),
                  single_row(f"topk{n}", "topk", n, 4.125 * n, "topk", kernels=0),
                  single_row(f"opt{n}", "optimizer", 12 * n, 12 * n, "optimizer", kernels=0),
                  single_row(f"pool{n}", "pool", 3 * n, 4 * n, "pool", kernels=0),
                  single_row(f"norm{n}", "norm", 15 * n, 8 * n, "norm", kernels=0),
                  single_row(f"dw{n}", "conv", 18 * n, 8 * n, "gemm_grouped", kernels=0),
                  single_row(f"kept{n}", "topk", n // 2, 9 * n // 2, "topk_kept", kernels=0)]
    for i in range(8):
        r = int(rng.integers(5, 30))
        d = np.where(rng.random(r) < 0.5, rng.uniform(0.05, 0.5, r), 1.0) if sparse and i % 2 else np.zeros(0)
        cases.append(BenchCase(f"step{i}", "sparse_step" if len(d) else "step", rng.uniform(1e5, 1e9, r),
                               rng.uniform(1e4, 1e8, r), rng.integers(0, len(OP_CLASSES), r), float(r), 0.0, d))
    return cases


TRUE = HostParams({"gemm": 50e9, "gemm_grouped": 8e9, "elementwise": 2e9, "pool": 0.7e9, "norm": 1.2e9,
                   "topk": 0.3e9, "topk_kept": 0.5e9, "optimizer": 1.5e9}, 12e9, 2e-5, 0.3)


@pytest.mark.parametrize("e", [0.0, 0.3, 1.0])
def test_fit_recovers_injected_parameters(e: float) -> None:
    true = HostParams(TRUE.rate_flops, TRUE.mem_bandwidth_bytes_per_s, TRUE.kernel_overhead_s, e)
    cases = [c.with_time(predict(c, true)) for c in _cases(np.random.default_rng(1))]
    res = fit_host(cases)
    p = res.params
    for c in OP_CLASSES:
        assert p.rate_flops[c] == pytest.approx(true.rate_flops[c], rel=1e-5)
    assert p.mem_bandwidth_bytes_per_s == pytest.approx(true.mem_bandwidth_bytes_per_s, rel=1e-6)
    assert p.kernel_overhead_s == pytest.approx(true.kernel_overhead_s, rel=1e-5)
    assert p.sparse_efficiency == pytest.approx(e, abs=1e-5)
    assert set(res.measured_classes) == set(OP_CLASSES)
    assert res.mape < 1e-6


def test_fit_is_robust_to_small_noise() -> None:
    rng = np.random.default_rng(2)
    # plus small steps whose time is mostly per-row overhead, so the overhead is determined
    tiny = [BenchCase(f"tiny{i}", "step", rng.uniform(1e3, 1e5, 20), rng.uniform(1e3, 1e4, 20),
                      rng.integers(0, len(OP_CLASSES), 20), 20.0, 0.0) for i in range(4)]
    cases = [c.with_time(predict(c, TRUE) * float(rng.uniform(0.97, 1.03))) for c in _cases(rng) + tiny]
    p = fit_host(cases).params
    assert p.rate_flops["gemm"] == pytest.approx(50e9, rel=0.1)
    assert p.kernel_overhead_s == pytest.approx(2e-5, rel=0.25)
    assert p.sparse_efficiency == pytest.approx(0.3, abs=0.1)


def test_class_never_compute_bound_gets_no_limit() -> None:
    # optimizer rows at 1 FLOP per 12 bytes at 1e12 FLOP/s are always bandwidth-bound
    true = HostParams({"gemm": 50e9, "elementwise": 2e9, "topk": 0.3e9, "optimizer": 1e12}, 12e9, 2e-5, 0.0)
    cases = [c for c in _cases(np.random.default_rng(3), sparse=False) if c.kind != "step"]
    cases.append(single_row("opt-only", "step", 2**20, 12 * 2**20, "optimizer", kernels=3))
    rng = np.random.default_rng(4)  # small steps without optimizer rows pin the overhead
    cases += [BenchCase(f"tiny{i}", "step", rng.uniform(1e3, 1e5, 20), rng.uniform(1e3, 1e4, 20),
                        rng.integers(0, 3, 20), 20.0, 0.0) for i in range(4)]
    cases = [c.with_time(predict(c, true)) for c in cases if not c.name.startswith("opt") or c.name == "opt-only"]
    res = fit_host(cases)
    assert "optimizer" not in res.measured_classes
    assert res.params.rate_flops["optimizer"] == float("inf")
    assert res.params.sparse_efficiency == 0.0 and not res.sparse_measured
    assert res.mape < 1e-6


def test_bandwidth_from_copies_by_hand() -> None:
    # t = B / 10 GB/s + 5 us, two sizes -> exact line through the two points
    cases = [single_row("c1", "copy", 0, 1e6, "elementwise", time_s=1e6 / 10e9 + 5e-6),
             single_row("c2", "copy", 0, 1e8, "elementwise", time_s=1e8 / 10e9 + 5e-6)]
    bw, o = fit_bandwidth(cases)
    assert bw == pytest.approx(10e9, rel=1e-9)
    assert o == pytest.approx(5e-6, rel=1e-6)


def test_fit_needs_copies_and_times() -> None:
    with pytest.raises(BadInputError, match="memory-copy"):
        fit_host([single_row("mm", "gemm", 1e9, 1e6, "gemm", time_s=0.01)])
    with pytest.raises(BadInputError, match="no timed"):
        fit_host([single_row("mm", "gemm", 1e9, 1e6, "gemm", time_s=0.0)])


def test_predict_by_hand() -> None:
    # two rows: compute-bound gemm 2e9 FLOP at 1e11 -> 0.02 s; memory-bound row 4e8 B at 1e10 -> 0.04 s,
    # sparse at d = 0.5 with e = 0.5 -> x 0.75; 3 kernels x 1 ms
    p = HostParams({"gemm": 1e11, "elementwise": 1e9, "topk": 1e9, "optimizer": 1e9}, 1e10, 1e-3, 0.5)
    case = BenchCase("h", "sparse_step", np.array([2e9, 1e6]), np.array([1e3, 4e8]), np.array([0, 1]), 3.0, 0.0,
                     np.array([0.5, 1.0]))
    assert predict(case, p) == pytest.approx(0.02 * 0.75 + 0.04 + 3e-3)
