"""The top-k rule: exactly k = keep_count(n, d) kept, the same values torch.topk keeps, ties cut by index."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from zerofl_profiler.sparse import masks
from zerofl_profiler.sparse.masks import keep_count, keep_topk, threshold_sparsify, topk_mask


def _check_exact(t: torch.Tensor, density: float) -> None:
    """Independent reference: torch.topk's kept values, and numpy's stable argsort for the tie order."""
    n = t.numel()
    k = keep_count(n, density)
    mask = topk_mask(t, density)
    assert int(mask.sum()) == k
    a = t.abs().reshape(-1)
    kept = a[mask.reshape(-1)]
    torch.testing.assert_close(kept.sort(descending=True).values, torch.topk(a, k).values, rtol=0, atol=0)
    # the tie rule: the same set as a stable sort by -|t| (ties in index order), the first k of it
    order = np.argsort(-a.numpy(), kind="stable")[:k]
    ref = np.zeros(n, dtype=bool)
    ref[order] = True
    assert np.array_equal(mask.reshape(-1).numpy(), ref)
    out, sel = keep_topk(t, density)
    assert torch.equal(out, t * mask)
    assert sel.kept == k and sel.nonzero == int(torch.count_nonzero(out)) and sel.numel == n
    assert sel.threshold == (float(torch.topk(a, k).values[-1]) if k < n else 0.0)


def _tensor(kind: str, n: int, g: torch.Generator) -> torch.Tensor:
    """Signed normals, post-ReLU (half zeros), few distinct values (many ties), or all zeros."""
    if kind == "ties":
        return torch.randint(-4, 5, (n,), generator=g).float()
    t = torch.randn(n, generator=g)
    return t.relu() if kind == "relu" else torch.zeros(n) if kind == "zeros" else t


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), density=st.floats(0.0, 1.0), kind=st.sampled_from(["normal", "relu", "ties", "zeros"]),
       seed=st.integers(0, 2**31 - 1))
def test_small_tensors_match_topk(n, density, kind, seed):
    g = torch.Generator().manual_seed(seed)
    _check_exact(_tensor(kind, n, g), density)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(300, 20000), density=st.floats(0.0, 1.0), kind=st.sampled_from(["normal", "relu", "ties"]),
       seed=st.integers(0, 2**31 - 1))
def test_larger_tensors_match_topk(n, density, kind, seed):
    g = torch.Generator().manual_seed(seed)
    _check_exact(_tensor(kind, n, g), density)


def test_conv_shaped_and_non_contiguous_tensors():
    g = torch.Generator().manual_seed(0)
    for d in (0.1, 0.7):
        _check_exact(torch.randn(2, 64, 32, 32, generator=g).relu(), d)
    t = torch.randn(40, 30, generator=g).t()  # a transposed view: flat order is the view's, as in torch
    assert not t.is_contiguous()
    _check_exact(t, 0.2)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_other_float_dtypes_keep_the_same_set(dtype):
    """The k-th value is found in float32 (exact for half types) and kept with that dtype's predecessor of v."""
    g = torch.Generator().manual_seed(3)
    t = torch.randn(5000, generator=g).to(dtype)
    for d in (0.1, 0.5):
        k = keep_count(t.numel(), d)
        out, sel = keep_topk(t, d)
        assert out.dtype == dtype and sel.kept == k == int(torch.count_nonzero(out))
        a = t.abs().double()
        order = np.argsort(-a.numpy(), kind="stable")[:k]
        ref = np.zeros(t.numel(), dtype=bool)
        ref[order] = True
        assert np.array_equal((out != 0).numpy(), ref)


def test_count_nonzero_matches_torch_with_signed_zeros_and_nan():
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        t = torch.tensor([0.0, -0.0, 1.0, -2.0, float("nan"), -0.0, 0.5, 0.0] * 3, dtype=dtype)
        assert masks.count_nonzero(t) == int(torch.count_nonzero(t)) == 12
        assert masks.count_nonzero(t[::3]) == int(torch.count_nonzero(t[::3]))
        # hardshrink writes +0.0 for what it drops, so the one-pass count of kept entries is exact
        out = torch.nn.functional.hardshrink(t, 0.7)
        assert masks._count_kept(out) == int(torch.count_nonzero(out)) == 9  # 1, -2 and NaN, three times


def test_selection_leaves_the_global_rng_alone_and_is_deterministic():
    t = torch.randn(1 << 17, generator=torch.Generator().manual_seed(1))
    before = torch.get_rng_state()
    a, sa = keep_topk(t, 0.1)
    b, sb = keep_topk(t, 0.1)
    assert torch.equal(before, torch.get_rng_state())
    assert torch.equal(a, b) and sa == sb


def test_rounding_of_k_is_nearest_not_swats_ceil():
    """k = round(d n) half up, at least one; SWAT's reference code uses ceil(d n) and keeps ties."""
    assert [keep_count(10, d) for d in (0.21, 0.25, 0.26, 0.0, 1.0)] == [2, 3, 3, 1, 10]
    assert keep_count(7, 0.5) == 4 and keep_count(3, 0.1) == 1 and keep_count(0, 0.5) == 0
    assert math.ceil(0.21 * 10) == 3  # SWAT would keep one more here
    # ties at the k-th value: SWAT's |t| >= v keeps all four; the rule keeps exactly k, lowest index first
    t = torch.tensor([1.0, 3.0, 1.0, 1.0, 2.0, 1.0])
    assert topk_mask(t, 0.5).tolist() == [True, True, False, False, True, False]
    assert int((t.abs() >= 1.0).sum()) == 6


def test_threshold_keeps_every_tie_and_counts_what_it_kept():
    t = torch.tensor([0.5, -0.5, 0.49, 2.0, 0.0, -3.0])
    out, sel = threshold_sparsify(t, 0.5)
    assert out.tolist() == [0.5, -0.5, 0.0, 2.0, 0.0, -3.0]
    assert sel.kept == sel.nonzero == 4 and sel.density == pytest.approx(4 / 6)


# ---------------------------------------------------------------- the sampled bracket (large tensors)
def _sort_reference(t: torch.Tensor, k: int) -> tuple[float, int, np.ndarray]:
    """(k-th largest |t|, #(|t| >= it), the kept set) from a full stable sort in float64: no selection code."""
    a = t.detach().reshape(-1).double().abs().numpy()
    order = np.argsort(-a, kind="stable")
    v = float(a[order[k - 1]])
    kept = np.zeros(a.size, dtype=bool)
    kept[order[:k]] = True
    return v, int(np.count_nonzero(a >= v)), kept


def _big(kind: str, n: int, g: torch.Generator) -> torch.Tensor:
    t = torch.randn(n, generator=g)
    if kind == "relu":
        return t.relu()
    if kind == "negative":
        return -t.abs()
    if kind == "ties":
        return torch.randint(-3, 4, (n,), generator=g).float() / 4
    if kind == "fine-ties":  # many distinct values, each repeated: ties at v inside the band
        return torch.randint(0, 2000, (n,), generator=g).float() - 1000
    if kind == "zeros":
        return torch.zeros(n)
    if kind == "mostly-zeros":  # fewer non-zeros than k at density 0.1
        return t * (torch.rand(n, generator=g) < 0.05)
    return t


@pytest.mark.parametrize("kind", ["normal", "relu", "negative", "ties", "fine-ties", "zeros", "mostly-zeros"])
@pytest.mark.parametrize("density", [0.1, 0.5, 0.001, 0.97])
def test_large_tensors_match_a_sort_reference(kind, density):
    """Above BRACKET_FROM the bracket decides v; the kept set, v and its tie count equal a full sort's."""
    g = torch.Generator().manual_seed(11)
    t = _big(kind, masks.BRACKET_FROM + 4099, g)
    k = keep_count(t.numel(), density)
    v, ge, kept = _sort_reference(t, k)
    assert masks._kth_cpu(t, k) == (v, ge)
    assert np.array_equal(topk_mask(t, density).reshape(-1).numpy(), kept)
    out, sel = keep_topk(t, density)
    assert np.array_equal((out != 0).reshape(-1).numpy(), kept & (t.reshape(-1) != 0).numpy())
    assert sel.threshold == v and sel.kept == k


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_large_tensors_of_other_dtypes_match_a_sort_reference(dtype):
    g = torch.Generator().manual_seed(12)
    t = (torch.randn(2, 64, 32, 32, generator=g).relu() - 0.1).to(dtype)  # conv-shaped, ties in half types
    for d in (0.1, 0.3):
        k = keep_count(t.numel(), d)
        v, ge, kept = _sort_reference(t, k)
        assert masks._kth_cpu(t, k) == (v, ge)
        assert np.array_equal(topk_mask(t, d).reshape(-1).numpy(), kept)
        out, sel = keep_topk(t, d)
        assert out.dtype == dtype and sel.threshold == v and int(torch.count_nonzero(out)) == k


def test_the_bracket_is_used_and_a_missed_bracket_falls_back(monkeypatch):
    """A sample that misses v (all from the top, or all from the bottom) leaves the full path to decide."""
    g = torch.Generator().manual_seed(13)
    t = torch.randn(masks.BRACKET_FROM + 1, generator=g)
    n, k = t.numel(), keep_count(t.numel(), 0.1)
    ref = _sort_reference(t, k)[:2]
    a = t.abs().numpy()
    assert masks._kth_bracketed(t.numpy(), k) == ref  # the ordinary sample brackets v (signed input, read only)
    order = np.argsort(a)
    calls = []
    monkeypatch.setattr(masks, "_kth_bracketed", lambda a, k, f=masks._kth_bracketed: calls.append(f(a, k)) or calls[-1])
    for biased in (order[-masks.BRACKET_SAMPLE:], order[:masks.BRACKET_SAMPLE]):  # v above / below the band
        monkeypatch.setattr(masks, "_sample_positions", lambda n, p=biased: p)
        assert masks._kth_cpu(t, k) == ref
        assert calls[-1] is None  # the bracket missed, the full introselect answered


def test_bracketed_and_full_selection_agree_with_nan_and_inf(monkeypatch):
    """NaN ranks above every number in both paths (numpy's partition order), inf is an ordinary value."""
    g = torch.Generator().manual_seed(14)
    bracket = masks.BRACKET_FROM
    for n_nan in (3, 5000, 20000):
        t = torch.randn(bracket + 7, generator=g)
        t[torch.randperm(t.numel(), generator=g)[:n_nan]] = float("nan")
        t[:7] = float("inf")
        got = {}
        for bracket_from in (bracket, 1 << 40):
            monkeypatch.setattr(masks, "BRACKET_FROM", bracket_from)
            got[bracket_from] = [masks._kth_cpu(t, k) for k in (1, 10, 13107, 200000)]
        assert repr(got[bracket]) == repr(got[1 << 40])  # NaN == NaN by repr
        if n_nan < 13107:  # NaN counted above the band: the bracket itself resolves v
            assert masks._kth_bracketed(t.numpy(), 13107) == got[bracket][2]


def test_sample_positions_depend_on_the_size_only():
    assert np.array_equal(masks._sample_positions.__wrapped__(1 << 17), masks._sample_positions(1 << 17))
    p = masks._sample_positions(70001)
    assert p.min() >= 0 and p.max() < 70001 and p.size == masks.BRACKET_SAMPLE


def test_tie_cut_on_non_contiguous_and_differentiable_tensors():
    """Ties at v cut by flat (logical) index on a transposed view; the gradient is the kept mask."""
    g = torch.Generator().manual_seed(15)
    t = (torch.randint(-5, 6, (300, 400), generator=g).float() / 5).t()
    assert not t.is_contiguous()
    for d in (0.1, 0.35):
        k = keep_count(t.numel(), d)
        kept = _sort_reference(t, k)[2].reshape(t.shape)
        assert np.array_equal(topk_mask(t, d).numpy(), kept)
        out, sel = keep_topk(t, d)
        assert torch.equal(out, t * torch.from_numpy(kept)) and sel.kept == k
        w = t.clone().requires_grad_(True)
        keep_topk(w, d)[0].sum().backward()
        assert torch.equal(w.grad, torch.from_numpy(kept).float())
