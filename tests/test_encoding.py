"""Encodings: round trips, real payload sizes equal the closed form, int32 CSR indices, bitmask bits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zerofl_profiler.encoding import ENCODINGS, decode, encode, encoded_nbytes
from zerofl_profiler.errors import BadInputError


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), density=st.floats(0, 1), kind=st.sampled_from(sorted(ENCODINGS)),
       dtype=st.sampled_from(["float32", "float16", "float64"]), seed=st.integers(0, 2**16))
def test_round_trip_and_sizes(n: int, density: float, kind: str, dtype: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(n).astype(dtype)
    mask = rng.random(n) < density
    enc = encode(values, mask, kind)
    out = decode(enc)
    assert out.dtype == values.dtype and out.shape == values.shape
    np.testing.assert_array_equal(out, np.where(mask, values, 0))
    assert enc.nbytes == encoded_nbytes(n, int(mask.sum()), kind, values.itemsize)


def test_hand_computed_sizes() -> None:
    values = np.arange(1, 11, dtype=np.float32)
    mask = np.zeros(10, dtype=bool)
    mask[[0, 3, 9]] = True
    assert encode(values, mask, "dense").nbytes == 40
    csr = encode(values, mask, "csr")
    assert csr.nbytes == 3 * 4 + 3 * 4
    assert csr.payload["indices"].dtype == np.int32
    assert csr.payload["indices"].tolist() == [0, 3, 9]
    bm = encode(values, mask, "bitmask")
    assert bm.nbytes == 2 + 3 * 4  # ceil(10 / 8) bytes of mask + 3 values
    assert bm.payload["bitmask"].dtype == np.uint8 and bm.payload["bitmask"].size == 2


def test_shape_is_kept_and_mask_none_keeps_all() -> None:
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    for kind in ENCODINGS:
        enc = encode(w, None, kind)
        assert enc.shape == (3, 4) and enc.nnz == 12
        np.testing.assert_array_equal(decode(enc), w)


def test_errors() -> None:
    v = np.ones(4, dtype=np.float32)
    with pytest.raises(BadInputError, match="unknown encoding"):
        encode(v, None, "zip")
    with pytest.raises(BadInputError, match="entries"):
        encode(v, np.ones(3, dtype=bool), "csr")
    with pytest.raises(BadInputError, match="boolean"):
        encode(v, np.ones(4), "csr")
    with pytest.raises(BadInputError):
        encoded_nbytes(4, 5, "csr")
