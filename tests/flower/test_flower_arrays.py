"""Uploads and models cross Flower's wire format intact: indices + values per layer, bytes checked."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.app import ArrayRecord, ConfigRecord, RecordDict  # noqa: E402
from flwr.common.serde import recorddict_from_proto, recorddict_to_proto  # noqa: E402

from zerofl_profiler.errors import BadInputError  # noqa: E402
from zerofl_profiler.fl.flower.arrays import (  # noqa: E402
    arrays_to_state,
    records_to_upload,
    state_to_arrays,
    upload_to_records,
)
from zerofl_profiler.fl.uploads import decode_upload, make_upload  # noqa: E402

GEMM = ["conv.weight", "fc.weight"]


def _states(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    glob = {"conv.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
            "conv.bias": rng.normal(size=4).astype(np.float32),
            "bn.num_batches_tracked": np.array(7, dtype=np.int64),
            "fc.weight": rng.normal(size=(10, 36)).astype(np.float32)}
    new = {k: (v + rng.normal(size=v.shape).astype(v.dtype) * 0.1 if v.dtype.kind == "f" else v + 3)
           for k, v in glob.items()}
    return glob, new


def _wire(rd: RecordDict) -> RecordDict:
    """Serialise to protobuf bytes and back, as a SuperLink hop does."""
    proto = recorddict_to_proto(rd)
    return recorddict_from_proto(type(proto).FromString(proto.SerializeToString()))


def test_state_round_trip_keeps_values_and_dtypes():
    glob, _ = _states()
    back = arrays_to_state(_wire(RecordDict({"g": state_to_arrays(glob)}))["g"])
    assert list(back) == list(glob)
    for k in glob:
        assert back[k].dtype == glob[k].dtype and back[k].shape == glob[k].shape
        np.testing.assert_array_equal(back[k], glob[k])


@pytest.mark.parametrize("variant,encoding", [("dense", "csr"), ("topk-weights", "csr"),
                                              ("topk-diff", "bitmask"), ("diff-topk-weights", "dense")])
def test_upload_round_trip_over_the_wire(variant, encoding):
    glob, new = _states()
    up = make_upload(variant, new, glob, 0.7, 0.1, encoding, GEMM)
    arrays, meta = upload_to_records(up)
    rd = _wire(RecordDict({"u": arrays, "m": meta}))
    back = records_to_upload(rd["u"], rd["m"], glob, GEMM)
    assert back.nbytes == up.nbytes and back.nbytes_dense == up.nbytes_dense
    a, b = decode_upload(up, glob), decode_upload(back, glob)
    for k in glob:
        np.testing.assert_array_equal(a.values[k], b.values[k])
        if a.masks[k] is None:
            assert b.masks[k] is None
        else:
            np.testing.assert_array_equal(a.masks[k], b.masks[k])


def test_sparse_layers_travel_as_indices_and_values():
    glob, new = _states()
    up = make_upload("topk-weights", new, glob, 0.9, 0.0, "csr", GEMM)
    arrays, _ = upload_to_records(up)
    names = list(arrays.keys())
    assert "conv.weight/indices" in names and "conv.weight/values" in names and "conv.bias" in names
    kept = arrays["fc.weight/values"].numpy().size
    assert kept == arrays["fc.weight/indices"].numpy().size < glob["fc.weight"].size
    # the bytes the record claims are the bytes of the arrays that actually travel
    assert sum(arrays[n].numpy().nbytes for n in names) == up.nbytes


def test_reordered_or_misreported_upload_is_rejected():
    glob, new = _states()
    up = make_upload("topk-weights", new, glob, 0.5, 0.0, "csr", GEMM)
    arrays, meta = upload_to_records(up)
    names = list(arrays.keys())
    shuffled = ArrayRecord.from_array_dict({n: arrays[n] for n in reversed(names)})
    with pytest.raises(BadInputError, match="order"):
        records_to_upload(shuffled, meta, glob, GEMM)
    lying = ConfigRecord({**dict(meta), "nbytes": int(meta["nbytes"]) - 4})
    with pytest.raises(BadInputError, match="claims"):
        records_to_upload(arrays, lying, glob, GEMM)
    truncated = ArrayRecord.from_array_dict({n: arrays[n] for n in names[:-1]})
    with pytest.raises(BadInputError):
        records_to_upload(truncated, meta, glob, GEMM)
