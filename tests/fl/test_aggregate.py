"""Aggregation against a hand-computed example, and the dense-upload reduction to plain FedAvg."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.fl.aggregate import AGGREGATORS, Contribution, aggregate

GLOBAL = {"w": np.array([1.0, 2.0, 3.0, 4.0], np.float32), "b": np.array([0.5], np.float32),
          "nbt": np.array(10, np.int64)}


def _contrib(values, mask, kind, b, nbt, n):
    return Contribution({"w": np.array(values, np.float32), "b": np.array([b], np.float32),
                         "nbt": np.array(nbt, np.int64)},
                        {"w": np.array(mask, bool), "b": None, "nbt": None},
                        {"w": kind, "b": "weights", "nbt": "weights"}, n)


# Client A (1 sample) sent entries 0 and 2; client B (3 samples) sent entries 1 and 2.
WEIGHTS = [_contrib([10, 0, 30, 0], [1, 0, 1, 0], "weights", 0.7, 12, 1),
           _contrib([0, 20, 40, 0], [0, 1, 1, 0], "weights", 0.9, 13, 3)]
# Same positions, differences to GLOBAL: A = (9, 27) at 0, 2; B = (18, 37) at 1, 2.
DIFFS = [_contrib([9, 0, 27, 0], [1, 0, 1, 0], "diffs", 0.7, 12, 1),
         _contrib([0, 18, 37, 0], [0, 1, 1, 0], "diffs", 0.9, 13, 3)]


@pytest.mark.parametrize("method, contribs, expected_w", [
    # unsent = 0:  [10/4, 20*3/4, 30/4 + 40*3/4, 0]
    ("fedavg", WEIGHTS, [2.5, 15.0, 37.5, 0.0]),
    # per entry over senders only; entry 3 sent by nobody keeps w_t = 4
    ("masked-mean", WEIGHTS, [10.0, 20.0, 37.5, 4.0]),
    # w_t + sum n_k/n d_k:  [1 + 9/4, 2 + 18*3/4, 3 + 27/4 + 37*3/4, 4]
    ("fedavg", DIFFS, [3.25, 15.5, 37.5, 4.0]),
    # w_t + mean over senders: [1 + 9, 2 + 18, 3 + (27 + 3*37)/4, 4]
    ("masked-mean", DIFFS, [10.0, 20.0, 37.5, 4.0]),
])
def test_hand_computed_example(method, contribs, expected_w) -> None:
    out = aggregate(GLOBAL, contribs, method)
    assert out["w"].numpy().dtype == np.float32
    assert out["w"].tolist() == pytest.approx(expected_w)
    assert out["b"].tolist() == pytest.approx([(0.7 * 1 + 0.9 * 3) / 4])  # dense: plain FedAvg
    # Integer buffer: weighted mean (12*1 + 13*3)/4 = 12.75, rounded, dtype kept.
    assert out["nbt"].numpy().dtype == np.int64 and int(out["nbt"]) == 13


def test_dense_uploads_reduce_to_weighted_mean() -> None:
    rng = np.random.default_rng(0)
    g = {"w": rng.standard_normal((3, 5)).astype(np.float32)}
    news = [rng.standard_normal((3, 5)).astype(np.float32) for _ in range(4)]
    ns = [5, 1, 7, 3]
    ref = np.average(np.stack(news), axis=0, weights=ns)
    dense_w = [Contribution({"w": x}, {"w": None}, {"w": "weights"}, n) for x, n in zip(news, ns)]
    dense_d = [Contribution({"w": x - g["w"]}, {"w": None}, {"w": "diffs"}, n) for x, n in zip(news, ns)]
    for method in AGGREGATORS:
        assert np.allclose(aggregate(g, dense_w, method)["w"], ref, atol=1e-6)
        assert np.allclose(aggregate(g, dense_d, method)["w"], ref, atol=1e-5)


def test_masked_mean_equals_fedavg_when_everyone_sends_the_same_positions() -> None:
    m = np.array([True, False, True, True])
    cs = [Contribution({"w": np.where(m, v, 0).astype(np.float32)}, {"w": m}, {"w": "diffs"}, n)
          for v, n in ((np.arange(4.0), 2), (np.ones(4), 6))]
    g = {"w": np.zeros(4, np.float32)}
    assert np.allclose(aggregate(g, cs, "fedavg")["w"], aggregate(g, cs, "masked-mean")["w"])


def test_errors() -> None:
    with pytest.raises(BadInputError, match="known: fedavg, masked-mean"):
        aggregate(GLOBAL, WEIGHTS, "median")
    with pytest.raises(BadInputError, match="no client"):
        aggregate(GLOBAL, [])
    with pytest.raises(BadInputError, match="both weights and differences"):
        aggregate(GLOBAL, [WEIGHTS[0], DIFFS[1]])
    bad = Contribution({"w": np.zeros(3, np.float32)}, {"w": None}, {"w": "weights"}, 1)
    with pytest.raises(BadInputError, match="missing"):
        aggregate(GLOBAL, [bad])
    shape = Contribution({**WEIGHTS[0].values, "w": np.zeros(3, np.float32)}, WEIGHTS[0].masks,
                         WEIGHTS[0].values_are, 1)
    with pytest.raises(BadInputError, match="shape"):
        aggregate(GLOBAL, [shape])
    zero = Contribution(WEIGHTS[0].values, WEIGHTS[0].masks, WEIGHTS[0].values_are, 0)
    with pytest.raises(BadInputError, match="num_samples"):
        aggregate(GLOBAL, [zero])


def _loop_reference(g, contribs, method):
    """Entry-by-entry python loop, written from the definitions, independent of the numpy code."""
    w = g["w"].ravel()
    out = []
    for i in range(w.size):
        sent = [(c.num_samples, float(c.values["w"].ravel()[i])) for c in contribs if c.masks["w"].ravel()[i]]
        n_all = sum(c.num_samples for c in contribs)
        diffs = contribs[0].values_are["w"] == "diffs"
        if method == "fedavg":
            s = sum(n * v for n, v in sent) / n_all
            out.append(w[i] + s if diffs else s)
        else:
            if not sent:
                out.append(w[i])
            else:
                m = sum(n * v for n, v in sent) / sum(n for n, _ in sent)
                out.append(w[i] + m if diffs else m)
    return np.array(out).reshape(g["w"].shape)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), clients=st.integers(1, 4), kind=st.sampled_from(["weights", "diffs"]),
       method=st.sampled_from(list(AGGREGATORS)))
def test_matches_entrywise_loop_reference(seed, clients, kind, method) -> None:
    rng = np.random.default_rng(seed)
    g = {"w": rng.standard_normal((3, 4)).astype(np.float32)}
    contribs = []
    for _ in range(clients):
        m = rng.random((3, 4)) < 0.4
        v = np.where(m, rng.standard_normal((3, 4)), 0).astype(np.float32)
        contribs.append(Contribution({"w": v}, {"w": m}, {"w": kind}, int(rng.integers(1, 50))))
    got = aggregate(g, contribs, method)["w"]
    assert np.allclose(got, _loop_reference(g, contribs, method), atol=1e-5)


def test_mask_shape_mismatch_is_bad_input() -> None:
    c = Contribution(WEIGHTS[0].values, {**WEIGHTS[0].masks, "w": np.ones(3, bool)}, WEIGHTS[0].values_are, 1)
    with pytest.raises(BadInputError, match="mask of w"):
        aggregate(GLOBAL, [c], "masked-mean")
