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


def _check_exact(t: torch.Tensor, density: float, g: torch.Generator) -> None:
    """Independent reference: torch.topk's kept values, and numpy's stable argsort for the tie order."""
    n = t.numel()
    k = keep_count(n, density)
    mask = topk_mask(t, density, g)
    assert int(mask.sum()) == k
    a = t.abs().reshape(-1)
    kept = a[mask.reshape(-1)]
    torch.testing.assert_close(kept.sort(descending=True).values, torch.topk(a, k).values, rtol=0, atol=0)
    # the tie rule: the same set as a stable sort by -|t| (ties in index order), the first k of it
    order = np.argsort(-a.numpy(), kind="stable")[:k]
    ref = np.zeros(n, dtype=bool)
    ref[order] = True
    assert np.array_equal(mask.reshape(-1).numpy(), ref)
    out, sel = keep_topk(t, density, g)
    assert torch.equal(out, t * mask)
    assert sel.kept == k and sel.nonzero == int(torch.count_nonzero(out)) and sel.numel == n


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
    _check_exact(_tensor(kind, n, g), density, g)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(64, 5000), density=st.floats(0.0, 1.0), kind=st.sampled_from(["normal", "relu", "ties"]),
       seed=st.integers(0, 2**31 - 1), sample=st.sampled_from([8, 64, 512]))
def test_sampled_path_matches_topk(n, density, kind, seed, sample):
    """The sampled estimate (tiny samples make misses and fallbacks common) never changes what is kept."""
    g = torch.Generator().manual_seed(seed)
    t = _tensor(kind, n, g)
    old = masks.SAMPLED_MIN_NUMEL, masks.SAMPLE_SIZE, masks.SAMPLE_SIGMAS
    masks.SAMPLED_MIN_NUMEL, masks.SAMPLE_SIZE, masks.SAMPLE_SIGMAS = 64, sample, 0.5
    try:
        _check_exact(t, density, g)
    finally:
        masks.SAMPLED_MIN_NUMEL, masks.SAMPLE_SIZE, masks.SAMPLE_SIGMAS = old


def test_large_tensor_sampled_path_and_conv_shape():
    g = torch.Generator().manual_seed(0)
    assert 2 * 64 * 32 * 32 >= masks.SAMPLED_MIN_NUMEL
    for d in (0.1, 0.7):
        _check_exact(torch.randn(2, 64, 32, 32, generator=g).relu(), d, g)


def test_sample_uses_its_own_generator_not_the_global_rng():
    t = torch.randn(1 << 17, generator=torch.Generator().manual_seed(1))
    before = torch.get_rng_state()
    keep_topk(t, 0.1, torch.Generator().manual_seed(5))
    assert torch.equal(before, torch.get_rng_state())


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
