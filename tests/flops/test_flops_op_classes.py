"""Op classes of the rows (gemm / gemm_grouped / pool / norm / topk / topk_kept), max-pool index bytes, top-k counts."""

from __future__ import annotations

import math

import pytest
from torch import nn

from zerofl_profiler.flops import count_training_step
from zerofl_profiler.flops.topk import entropy_nats, selection_comparisons, topk_counts
from zerofl_profiler.sparse.masks import topk_mask
from zerofl_profiler.vocab import kept_count as keep_count


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 10))


def test_row_classes() -> None:
    rep = count_training_step(_net(), (3, 16, 16), 2)
    cls = {(r.name, r.type): r.op_class for r in rep.layers}
    assert cls[("0", "Conv2d")] == "gemm" and cls[("7", "Linear")] == "gemm"
    assert cls[("4", "Conv2d")] == "gemm_grouped"
    assert cls[("1", "BatchNorm2d")] == "norm"
    assert cls[("3", "MaxPool2d")] == "pool" and cls[("5", "AvgPool2d")] == "pool"
    assert cls[("2", "ReLU")] == "elementwise"
    # grouped conv rows are GEMM work in the trace totals: forward = both convs + linear
    t = rep.totals["dense"]
    gemm_fwd = sum(r.dense["forward"] for r in rep.layers if r.op_class in ("gemm", "gemm_grouped"))
    assert t["forward"] == gemm_fwd
    dw = rep.layer("4", "Conv2d").dense["forward"]
    assert dw == 2 * 2 * 8 * 8 * 8 * 9  # 2 FLOP x batch x C x H x W x (C_in/g = 1) x 3 x 3


def test_only_depthwise_convolutions_are_gemm_grouped() -> None:
    """One input channel per group is depthwise (PyTorch's is_depthwise); 4 per group (ResNeXt-like) is GEMM work."""
    net = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 16, 3, padding=1, groups=2),
                        nn.Conv2d(16, 16, 1, groups=16), nn.Flatten(), nn.Linear(16 * 6 * 6, 3))
    rep = count_training_step(net, (8, 6, 6), 2)
    cls = {r.name: r.op_class for r in rep.layers if r.type == "Conv2d"}
    assert cls == {"0": "gemm_grouped", "1": "gemm", "2": "gemm_grouped"}


def test_max_pool_bytes_include_int64_indices() -> None:
    rep = count_training_step(_net(), (3, 16, 16), 2)
    b = rep.layer("3", "MaxPool2d").bytes["dense"]
    x, y = 2 * 8 * 16 * 16, 2 * 8 * 8 * 8  # input and output elements
    assert b["forward"] == {"read": 4 * x, "written": 4 * y + 8 * y}
    assert b["backward_input"] == {"read": 4 * y + 8 * y, "written": 4 * x}  # grad out + indices -> grad in
    avg = rep.layer("5", "AvgPool2d").bytes["dense"]["forward"]
    assert avg["written"] == 4 * (2 * 8 * 4 * 4)  # no indices


def test_selection_comparisons_closed_form() -> None:
    assert entropy_nats(0.5) == pytest.approx(math.log(2))
    assert entropy_nats(0.1) == pytest.approx(entropy_nats(0.9))
    assert entropy_nats(0.0) == entropy_nats(1.0) == 0.0
    n = 1_000_000
    # Knuth: 2n + 2k ln(n/k) + 2(n-k) ln(n/(n-k)); at k = n/2: 2n (1 + ln 2)
    assert selection_comparisons(n, n // 2) == round(2 * n * (1 + math.log(2)))
    k = 100_000
    assert selection_comparisons(n, k) == pytest.approx(2 * n + 2 * k * math.log(n / k)
                                                        + 2 * (n - k) * math.log(n / (n - k)), abs=1)
    assert selection_comparisons(n, n) == 0 and selection_comparisons(0, 0) == 0
    assert topk_counts(n, 1.0) == (0, 0)


def test_kept_matches_the_mask_code() -> None:
    import torch

    for n in (1, 7, 100, 12345):
        for d in (0.05, 0.3, 0.5, 0.999):
            assert topk_counts(n, d)[1] == int(topk_mask(torch.randn(n), d).sum())


def test_topk_rows_depend_on_n_and_k() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32, bias=False), nn.ReLU(), nn.Linear(32, 10, bias=False))
    reps = {s: count_training_step(net, (64,), 4, weight_sparsity=s, dense_layers=[]) for s in (0.5, 0.9)}
    for s, rep in reps.items():
        sel = rep.layer("1", "topk")
        kept_row = rep.layer("1", "topk_kept")
        assert (sel.op_class, kept_row.op_class) == ("topk", "topk_kept")
        n_w, n_x, d = 64 * 32, 4 * 64, 1 - s
        assert sel.sparse["forward"] == topk_counts(n_w, d)[0] + topk_counts(n_x, d)[0]
        assert kept_row.sparse["forward"] == keep_count(n_w, d) + keep_count(n_x, d)
        assert kept_row.bytes["sparse"]["forward"] == {"read": 8 * kept_row.sparse["forward"],
                                                       "written": kept_row.sparse["forward"]}
        assert sel.dense == kept_row.dense == {p: 0 for p in sel.dense}
    # a mask keeping half the entries costs more than one keeping a tenth (selection and kept entries)
    assert reps[0.5].totals["sparse"]["topk"] > reps[0.9].totals["sparse"]["topk"]
