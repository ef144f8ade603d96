"""Uploads and aggregation on torch tensors against the numpy implementation they replaced.

The reference below is the numpy code the engines ran before encoding and aggregation moved onto
the run's device (top-k by np.argpartition, payloads by ``zerofl_profiler.encoding``, fedavg and
masked-mean accumulated in float64). On the CPU the torch path must give the same payload arrays,
the same byte counts and bit-identical aggregated models.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zerofl_profiler.encoding import ENCODINGS, encode
from zerofl_profiler.fl.aggregate import AGGREGATORS, Contribution, aggregate
from zerofl_profiler.fl.device_encoding import DEVICE_ENCODINGS, pack_bits, unpack_bits
from zerofl_profiler.fl.uploads import UPLOADS, aggregate_uploads, decode_upload, kept_fraction, make_upload
from zerofl_profiler.vocab import kept_count

GEMM = ("conv.weight", "fc.weight")


def _states(seed: int):
    rng = np.random.default_rng(seed)
    g = {"conv.weight": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),
         "conv.bias": rng.standard_normal(8).astype(np.float32),
         "bn.num_batches_tracked": np.array(5, np.int64),
         "fc.weight": rng.standard_normal((10, 53)).astype(np.float32),  # 530: not a multiple of 8
         "fc.bias": np.zeros(10, np.float32)}
    new = {k: (v + 0.3 * rng.standard_normal(v.shape)).astype(np.float32) if v.dtype == np.float32
           else v + 3 for k, v in g.items()}
    return new, g


# ---------------------------------------------------------------- the numpy reference (the old path)
def _ref_upload(variant: str, new, g, density: float, encoding: str):
    """{key: payload dict} and total bytes, as the numpy engine encoded them."""
    payloads, nbytes = {}, 0
    for key in g:
        if key not in GEMM:
            payloads[key] = {"raw": new[key]}
            nbytes += new[key].nbytes
            continue
        w, w0 = new[key], g[key]
        sent = w if variant in ("dense", "topk-weights") else w - w0
        if variant == "dense":
            mask, enc = None, "dense"
        else:
            score = (np.abs(w - w0) if variant == "topk-diff" else np.abs(w)).reshape(-1)
            k = kept_count(score.size, density)
            mask = np.zeros(score.size, bool)
            mask[np.argpartition(-score, k - 1)[:k]] = True
            enc = encoding
        t = encode(np.ascontiguousarray(sent), mask, enc)
        payloads[key] = dict(t.payload)
        nbytes += t.nbytes
    return payloads, nbytes


def _ref_aggregate(g, contribs, method):
    """fedavg / masked-mean exactly as the numpy aggregation computed them."""
    out = {}
    n = float(sum(c.num_samples for c in contribs))
    for key, w in g.items():
        diffs = contribs[0].values_are[key] == "diffs"
        if method == "fedavg":
            acc = np.zeros(w.shape, np.float64)
            for c in contribs:
                acc += (c.num_samples / n) * c.values[key]
            res = acc + w if diffs else acc
        else:
            num, den = np.zeros(w.shape, np.float64), np.zeros(w.shape, np.float64)
            for c in contribs:
                m = c.masks[key]
                sent = np.ones(w.shape, bool) if m is None else m
                num += np.where(sent, c.num_samples * c.values[key].astype(np.float64), 0.0)
                den += c.num_samples * sent
            have = den > 0
            mean = np.divide(num, den, out=np.zeros_like(num), where=have)
            res = w.astype(np.float64) + mean if diffs else np.where(have, mean, w.astype(np.float64))
        out[key] = np.rint(res).astype(w.dtype) if w.dtype.kind in "iub" else res.astype(w.dtype)
    return out


def _np_contribution(dec, n: int) -> Contribution:
    return Contribution({k: v.numpy() for k, v in dec.values.items()},
                        {k: None if m is None else m.numpy() for k, m in dec.masks.items()}, dec.values_are, n)


# ---------------------------------------------------------------- tests
def test_every_encoding_has_a_device_implementation() -> None:
    assert list(DEVICE_ENCODINGS) == list(ENCODINGS)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 530, 4099])
def test_pack_bits_matches_numpy(n: int) -> None:
    m = np.random.default_rng(n).random(n) < 0.3
    packed = pack_bits(torch.from_numpy(m))
    assert packed.dtype == torch.uint8 and np.array_equal(packed.numpy(), np.packbits(m))
    assert np.array_equal(unpack_bits(packed, n).numpy(), m)


@pytest.fixture(params=["host-kernels", "device-kernels"])
def kernels(request, monkeypatch):
    """On the CPU, top-k and CSR positions use numpy on the tensors' memory; the accelerator kernels
    (torch.topk, torch.nonzero) are run here on the CPU too, so both are checked against the reference."""
    if request.param == "device-kernels":
        from zerofl_profiler.fl import device_encoding, uploads

        monkeypatch.delitem(uploads.SELECT, "cpu")
        monkeypatch.delitem(device_encoding.FLATNONZERO, "cpu")
    return request.param


@pytest.mark.parametrize("variant", list(UPLOADS))
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_payloads_and_bytes_equal_the_numpy_path(variant: str, encoding: str, kernels: str) -> None:
    new, g = _states(7)
    up = make_upload(variant, new, g, 0.8, 0.05, encoding, GEMM)
    ref, ref_bytes = _ref_upload(variant, new, g, kept_fraction(0.8, 0.05), encoding)
    assert up.nbytes == ref_bytes
    for key in g:
        if key in up.raw:
            assert np.array_equal(up.raw[key].numpy(), ref[key]["raw"])
            continue
        got = {n: a.numpy() for n, a in up.encoded[key].payload.items()}
        assert list(got) == list(ref[key])
        for name, arr in ref[key].items():
            assert got[name].dtype == arr.dtype and np.array_equal(got[name], arr), (key, name)
    assert [a.dtype for a in up.to_arrays()] == [a.dtype for k in g for a in ref[k].values()]


@pytest.mark.parametrize("method", list(AGGREGATORS))
@pytest.mark.parametrize("variant", ["topk-weights", "topk-diff", "dense"])
def test_aggregation_is_bit_identical_to_the_numpy_path(method: str, variant: str, kernels: str) -> None:
    g = _states(1)[1]
    ups = [(make_upload(variant, _states(s)[0], g, 0.7, 0.0, "bitmask", GEMM), n) for s, n in ((2, 13), (3, 40), (4, 7))]
    got = aggregate_uploads(g, ups, method)
    ref = _ref_aggregate(g, [_np_contribution(decode_upload(u, g), n) for u, n in ups], method)
    for k in g:
        assert got[k].numpy().dtype == ref[k].dtype and np.array_equal(got[k].numpy(), ref[k]), k


def test_upload_shares_no_memory_with_the_live_model() -> None:
    """The client encodes straight from its model's state_dict, then the next client trains that model."""
    model = torch.nn.Linear(20, 6)
    g = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    ups = {e: make_upload(v, model.state_dict(), g, 0.5, 0.0, e, ["weight"])
           for v in ("dense", "topk-weights") for e in ENCODINGS}
    before = {e: [a.copy() for a in u.to_arrays()] for e, u in ups.items()}
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(-3.0)
    for e, u in ups.items():
        assert all(np.array_equal(a, b) for a, b in zip(u.to_arrays(), before[e])), e


def test_numpy_contributions_land_on_the_global_device() -> None:
    g = {"w": torch.tensor([1.0, 2.0])}
    c = Contribution({"w": np.array([3.0, 5.0], np.float32)}, {"w": np.array([True, False])}, {"w": "weights"}, 2)
    out = aggregate(g, [c], "masked-mean")
    assert isinstance(out["w"], torch.Tensor) and out["w"].tolist() == [3.0, 2.0]


@pytest.mark.gpu
@pytest.mark.parametrize("method", list(AGGREGATORS))
def test_cuda_path_matches_the_cpu_path(method: str) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    new, g = _states(5)
    cpu = make_upload("topk-diff", new, g, 0.9, 0.0, "csr", GEMM)
    dev_g = {k: torch.from_numpy(v).cuda() for k, v in g.items()}
    dev = make_upload("topk-diff", {k: torch.from_numpy(v).cuda() for k, v in new.items()}, dev_g,
                      0.9, 0.0, "csr", GEMM)
    assert dev.nbytes == cpu.nbytes
    assert all(p.is_cuda for e in dev.encoded.values() for p in e.payload.values())
    out = aggregate_uploads(dev_g, [(dev, 3)], method)
    ref = aggregate_uploads(g, [(cpu, 3)], method)
    for k in g:
        assert out[k].is_cuda and torch.allclose(out[k].cpu(), ref[k], atol=1e-6), k
