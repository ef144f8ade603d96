"""Partitions: LDA label skew against alpha, IID, disjointness, coverage, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.fl.partition import (PARTITIONS, iid_partition, lda_partition,
                                          make_partition, partition_stats)

LABELS = np.repeat(np.arange(10), 200)  # balanced, 2000 samples
np.random.default_rng(0).shuffle(LABELS)


def _assert_valid(parts: list[np.ndarray], n: int, k: int) -> None:
    assert len(parts) == k
    allidx = np.concatenate(parts)
    assert len(allidx) == n and np.array_equal(np.sort(allidx), np.arange(n))  # disjoint + cover
    assert min(len(p) for p in parts) >= 1
    assert all(p.dtype == np.int64 and np.all(np.diff(p) > 0) for p in parts)


@pytest.mark.parametrize("fn", [lda_partition, iid_partition])
@pytest.mark.parametrize("k", [1, 7, 100])
def test_partitions_are_disjoint_cover_and_equal_sized(fn, k: int) -> None:
    parts = fn(LABELS, k, alpha=0.5, seed=3) if fn is lda_partition else fn(LABELS, k, seed=3)
    _assert_valid(parts, len(LABELS), k)
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == len(LABELS)


def _expected_iid_tv(k: int, seed: int = 11) -> float:
    """Mean TV distance of random equal shares: the sampling noise floor, measured independently."""
    rng = np.random.default_rng(seed)
    glob = np.bincount(LABELS, minlength=10) / len(LABELS)
    tvs = []
    for _ in range(20):
        order = rng.permutation(len(LABELS))
        for chunk in np.array_split(order, k):
            mix = np.bincount(LABELS[chunk], minlength=10) / len(chunk)
            tvs.append(0.5 * np.abs(mix - glob).sum())
    return float(np.mean(tvs))


def test_alpha_controls_label_skew() -> None:
    k = 20
    floor = _expected_iid_tv(k)
    tv = {a: np.mean([partition_stats(LABELS, lda_partition(LABELS, k, a, s)).mean_tv_distance()
                      for s in range(3)]) for a in (0.1, 1.0, 1000.0)}
    assert tv[1000.0] < floor * 1.3  # alpha 1000 ~ IID: at the sampling noise floor
    assert tv[1.0] > 2 * floor  # ZeroFL's non-IID setting is clearly skewed
    assert tv[0.1] > tv[1.0] > tv[1000.0]
    # alpha 0.1: the typical client's largest class holds far more than its IID share (10%).
    st = partition_stats(LABELS, lda_partition(LABELS, k, 0.1, 0))
    assert np.median(st.label_mix.max(axis=1)) > 0.35
    st = partition_stats(LABELS, lda_partition(LABELS, k, 1000.0, 0))
    assert st.label_mix.max() < 0.25 and st.label_mix.min() > 0.0


def test_iid_partition_is_at_noise_floor() -> None:
    tv = partition_stats(LABELS, iid_partition(LABELS, 20, seed=0)).mean_tv_distance()
    assert tv < 1.5 * _expected_iid_tv(20)


def test_lda_follows_the_class_prior_on_imbalanced_data() -> None:
    y = np.repeat(np.arange(2), [1800, 200])  # 90/10
    st = partition_stats(y, lda_partition(y, 10, 1000.0, seed=0))
    assert np.allclose(st.label_mix[:, 0], 0.9, atol=0.06)


def test_reproducible_and_seed_sensitive() -> None:
    a = lda_partition(LABELS, 10, 1.0, seed=5)
    b = lda_partition(LABELS, 10, 1.0, seed=5)
    c = lda_partition(LABELS, 10, 1.0, seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    assert all(np.array_equal(x, y) for x, y in
               zip(iid_partition(LABELS, 4, seed=1), iid_partition(LABELS, 4, seed=1)))


def test_stats_hand_example() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    st = partition_stats(y, [np.array([0, 1, 2]), np.array([3, 4, 5])], num_classes=3)
    assert st.sizes.tolist() == [3, 3]
    assert st.label_hist.tolist() == [[2, 1, 0], [0, 1, 2]]
    # global mix (1/3 each); client 0 mix (2/3, 1/3, 0): TV = 0.5 * (1/3 + 0 + 1/3) = 1/3
    assert st.mean_tv_distance() == pytest.approx(1 / 3)
    assert st.to_json()["sizes"] == [3, 3]


def test_bad_input() -> None:
    with pytest.raises(BadInputError, match="at least one"):
        lda_partition(np.arange(5) % 2, 6, 1.0, 0)
    with pytest.raises(BadInputError, match="alpha"):
        lda_partition(LABELS, 4, 0.0, 0)
    with pytest.raises(BadInputError, match="alpha"):
        lda_partition(LABELS, 4, float("nan"), 0)
    with pytest.raises(BadInputError, match="clients"):
        iid_partition(LABELS, 0)
    with pytest.raises(BadInputError, match="known: lda, iid"):
        make_partition("shards", LABELS, 4)
    assert set(PARTITIONS) == {"lda", "iid"}
    assert all(np.array_equal(x, y) for x, y in
               zip(make_partition("lda", LABELS, 4, alpha=2.0, seed=1), lda_partition(LABELS, 4, 2.0, 1)))


def test_as_many_clients_as_samples_gives_one_each() -> None:
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    for parts in (lda_partition(y, len(y), 0.1, 0), iid_partition(y, len(y), 0)):
        assert sorted(int(p[0]) for p in parts) == list(range(len(y)))
        assert all(len(p) == 1 for p in parts)
