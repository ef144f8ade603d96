"""Upload variants: positions against an argsort reference, round-trips, real bytes per encoding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.fl.uploads import (UPLOADS, aggregate_uploads, decode_upload, from_arrays,
                                        kept_fraction, make_upload, topk_positions)

ENCS = ("csr", "bitmask", "dense")
GEMM = ("conv.weight", "fc.weight")


def _states(seed: int = 0):
    rng = np.random.default_rng(seed)
    g = {"conv.weight": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),  # 216
         "conv.bias": rng.standard_normal(8).astype(np.float32),
         "bn.weight": np.ones(8, np.float32), "bn.running_mean": np.zeros(8, np.float32),
         "bn.num_batches_tracked": np.array(5, np.int64),
         "fc.weight": rng.standard_normal((10, 50)).astype(np.float32),  # 500
         "fc.bias": np.zeros(10, np.float32)}
    new = {k: (v + 0.3 * rng.standard_normal(v.shape)).astype(np.float32) if v.dtype == np.float32
           else v + 7 for k, v in g.items()}
    return new, g


def _ref_mask(score: np.ndarray, k: int) -> np.ndarray:
    """Reference: the k largest by a full stable argsort (values are distinct, so unique)."""
    flat = score.reshape(-1)
    m = np.zeros(flat.size, bool)
    m[np.argsort(-flat, kind="stable")[:k]] = True
    return m.reshape(score.shape)


def _k(numel: int, density: float) -> int:
    return min(numel, max(1, math.floor(density * numel + 0.5)))


@pytest.mark.parametrize("variant", list(UPLOADS))
@pytest.mark.parametrize("encoding", ENCS)
def test_round_trip_positions_values_and_bytes(variant: str, encoding: str) -> None:
    new, g = _states()
    sparsity, ratio = 0.9, 0.05
    up = make_upload(variant, new, g, sparsity, ratio, encoding, GEMM)
    dec = decode_upload(up, g)
    raw_bytes = 4 * (8 + 8 + 8 + 10) + 8  # biases, BN weight + running mean (fp32), int64 counter
    dense_bytes = 4 * (216 + 500) + raw_bytes
    assert up.nbytes_dense == dense_bytes
    expected_bytes = raw_bytes
    for key in GEMM:
        w, w0 = new[key], g[key]
        if variant == "dense":
            mask = np.ones(w.shape, bool)
        else:
            score = np.abs(w - w0) if variant == "topk-diff" else np.abs(w)
            mask = _ref_mask(score, _k(w.size, 1 - sparsity + ratio))
        sent = w if variant in ("dense", "topk-weights") else w - w0
        assert np.array_equal(dec.values[key], np.where(mask, sent, 0))
        if variant == "dense":
            assert dec.masks[key] is None
        elif up.encoding == "dense":  # no mask on the wire: non-zero entries count as sent
            assert np.array_equal(dec.masks[key], mask & (sent != 0))
        else:
            assert np.array_equal(dec.masks[key], mask)
        nnz, n = int(mask.sum()), w.size
        expected_bytes += {"dense": 4 * n, "csr": 8 * nnz, "bitmask": math.ceil(n / 8) + 4 * nnz}[up.encoding]
        assert dec.values_are[key] == ("diffs" if "diff" in variant else "weights")
        rebuilt = dec.client_model(g)[key]
        assert np.allclose(rebuilt[mask], w[mask], atol=1e-6)
    assert up.nbytes == expected_bytes
    for key in set(g) - set(GEMM):  # dense tensors: sent as trained, never as differences
        assert np.array_equal(dec.values[key], new[key]) and dec.masks[key] is None
        assert dec.values_are[key] == "weights" and dec.values[key].numpy().dtype == g[key].dtype


def test_byte_figures_by_hand() -> None:
    """conv 216 + fc 500 entries at density 0.1: k = 22 and 50."""
    new, g = _states()
    got = {e: make_upload("topk-weights", new, g, 0.9, 0.0, e, GEMM).nbytes for e in ENCS}
    raw = 4 * 34 + 8
    assert got["csr"] == raw + (22 + 50) * 8  # 576 + 144 = 720
    assert got["bitmask"] == raw + 27 + 63 + (22 + 50) * 4  # 378 + 144 = 522
    assert got["dense"] == raw + 716 * 4
    assert make_upload("dense", new, g, 0.9, 0.0, "csr", GEMM).nbytes == raw + 716 * 4


def test_dense_upload_ignores_the_encoding_and_sends_everything() -> None:
    new, g = _states()
    for e in ENCS:
        up = make_upload("dense", new, g, 0.9, 0.0, e, GEMM)
        assert up.encoding == "dense" and up.nbytes == up.nbytes_dense
        dec = decode_upload(up, g)
        assert all(np.array_equal(v, new[k]) for k, v in dec.values.items())
        assert all(m is None for m in dec.masks.values())  # every entry sent, zeros included
    # A weight that is exactly 0 after training still counts as sent in masked-mean.
    new0 = {**new, "fc.weight": new["fc.weight"].copy()}
    new0["fc.weight"][0, 0] = 0.0
    up = make_upload("dense", new0, g, 0.9, 0.0, "dense", GEMM)
    out = aggregate_uploads(g, [(up, 1)], "masked-mean")
    assert out["fc.weight"][0, 0] == 0.0


def test_kept_fraction_is_clamped_to_one() -> None:
    assert kept_fraction(0.9, 0.1) == pytest.approx(0.2)
    assert kept_fraction(0.5, 0.7) == 1.0
    new, g = _states()
    up = make_upload("topk-weights", new, g, 0.5, 0.7, "csr", GEMM)
    assert up.nbytes == 4 * 34 + 8 + 716 * 8  # every entry, with an index each
    with pytest.raises(BadInputError, match="sparsity"):
        kept_fraction(1.0, 0.0)
    with pytest.raises(BadInputError, match="mask ratio"):
        kept_fraction(0.9, -0.1)


def test_topk_diff_and_diff_topk_weights_pick_different_positions() -> None:
    g = {"w": np.array([10.0, 1.0, 5.0, 0.1], np.float32)}
    new = {"w": np.array([10.1, 1.0, 4.0, 3.0], np.float32)}  # the biggest weight barely moved
    a = decode_upload(make_upload("diff-topk-weights", new, g, 0.5, 0.0, "csr", ["w"]), g)
    b = decode_upload(make_upload("topk-diff", new, g, 0.5, 0.0, "csr", ["w"]), g)
    assert a.masks["w"].tolist() == [True, False, True, False]  # largest |new|: 10.1 and 4.0
    assert a.values["w"].tolist() == pytest.approx([0.1, 0, -1.0, 0], abs=1e-6)  # float32
    assert b.masks["w"].tolist() == [False, False, True, True]  # largest |change|: 2.9 and 1.0
    assert b.values["w"].tolist() == pytest.approx([0, 0, -1.0, 2.9])


def test_topk_positions_matches_argsort_reference() -> None:
    x = np.random.default_rng(3).standard_normal(1001)
    for d in (0.001, 0.05, 0.5, 0.999, 1.0):
        k = _k(x.size, d)
        assert np.array_equal(topk_positions(x, d), _ref_mask(x, k))


@pytest.mark.parametrize("variant", list(UPLOADS))
@pytest.mark.parametrize("encoding", ENCS)
def test_flower_arrays_round_trip(variant: str, encoding: str) -> None:
    new, g = _states(1)
    up = make_upload(variant, new, g, 0.8, 0.1, encoding, GEMM)
    arrays = [np.array(a, copy=True) for a in up.to_arrays()]  # as if serialised
    assert all(isinstance(a, np.ndarray) for a in arrays)
    per_gemm = {"dense": 1, "csr": 2, "bitmask": 2}[up.encoding]
    assert len(arrays) == len(g) - len(GEMM) + per_gemm * len(GEMM)
    back = from_arrays(arrays, g, variant=variant, encoding=encoding, gemm_keys=GEMM)
    assert back.nbytes == up.nbytes and back.values_are == up.values_are
    d1, d2 = decode_upload(up, g), decode_upload(back, g)
    for k in g:
        assert np.array_equal(d1.values[k], d2.values[k])
    with pytest.raises(BadInputError, match="arrays"):
        from_arrays(arrays[:-1], g, variant=variant, encoding=encoding, gemm_keys=GEMM)


def test_corrupt_payloads_are_bad_input() -> None:
    new, g = _states()
    up = make_upload("topk-weights", new, g, 0.9, 0.0, "csr", GEMM)
    arrays = up.to_arrays()
    idx_pos = list(g).index("conv.weight") + 1  # values, then indices
    arrays[idx_pos] = arrays[idx_pos].copy()
    arrays[idx_pos][0] = 10_000
    with pytest.raises(BadInputError, match="outside"):
        decode_upload(from_arrays(arrays, g, variant="topk-weights", encoding="csr", gemm_keys=GEMM), g)
    arrays = up.to_arrays()
    arrays[idx_pos] = np.concatenate([arrays[idx_pos][:-1], arrays[idx_pos][:1]])  # duplicate index
    with pytest.raises(BadInputError, match="positions"):
        decode_upload(from_arrays(arrays, g, variant="topk-weights", encoding="csr", gemm_keys=GEMM), g)


def test_bad_input() -> None:
    new, g = _states()
    with pytest.raises(BadInputError, match="known: dense, topk-weights"):
        make_upload("random", new, g, 0.9, 0.0, "csr", GEMM)
    with pytest.raises(BadInputError, match="encoding"):
        make_upload("topk-weights", new, g, 0.9, 0.0, "zip", GEMM)
    with pytest.raises(BadInputError, match="gemm keys"):
        make_upload("topk-weights", new, g, 0.9, 0.0, "csr", ["nope.weight"])
    with pytest.raises(BadInputError, match="floating"):
        make_upload("topk-weights", new, g, 0.9, 0.0, "csr", ["bn.num_batches_tracked"])
    with pytest.raises(BadInputError, match="differ"):
        make_upload("topk-weights", {k: v for k, v in new.items() if k != "fc.bias"}, g, 0.9, 0.0, "csr", GEMM)
    with pytest.raises(BadInputError, match="shape"):
        make_upload("topk-weights", {**new, "fc.bias": np.zeros(3, np.float32)}, g, 0.9, 0.0, "csr", GEMM)


def test_aggregate_uploads_end_to_end_with_a_torch_model() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3))
    gemm = [f"{n}.weight" for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    g = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    clients = []
    for seed, n in ((1, 10), (2, 30)):
        torch.manual_seed(seed)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in g.items()})
        model.train()
        loss = model(torch.randn(8, 1, 8, 8)).pow(2).mean()
        loss.backward()
        opt.step()
        clients.append(({k: v.detach().numpy().copy() for k, v in model.state_dict().items()}, n))
    # Dense diffs with fedavg == the sample-weighted mean of the client models.
    ups = [(make_upload("topk-diff", s, g, 0.0, 0.0, "csr", gemm), n) for s, n in clients]
    out = aggregate_uploads(g, ups, "fedavg")
    for k in g:
        ref = (clients[0][0][k].astype(np.float64) * 10 + clients[1][0][k] * 30) / 40
        if g[k].dtype == np.int64:
            assert out[k].dtype == torch.int64 and int(out[k]) == int(g[k]) + 1
        else:
            assert np.allclose(out[k], ref, atol=1e-6), k
    # Sparse weights with fedavg: an entry only client 2 sent is 30/40 of its value.
    ups = [(make_upload("topk-weights", s, g, 0.9, 0.0, "bitmask", gemm), n) for s, n in clients]
    out = aggregate_uploads(g, ups, "fedavg")
    m1 = decode_upload(ups[0][0], g).masks["4.weight"].numpy()
    m2 = decode_upload(ups[1][0], g).masks["4.weight"].numpy()
    only2 = m2 & ~m1
    assert only2.any()
    w = out["4.weight"].numpy()
    assert np.allclose(w[only2], 0.75 * clients[1][0]["4.weight"][only2])
    assert np.all(w[~(m1 | m2)] == 0)
