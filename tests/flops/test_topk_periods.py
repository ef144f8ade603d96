"""The per-step counter charges top-k work once per selection period, not every step."""

from __future__ import annotations

import pytest
import torch

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.flops import count_from_trace, trace_model
from zerofl_profiler.flops.topk import topk_counts
from zerofl_profiler.models import build_model


def _topk_rows(rep):
    return {(r.name, r.op_class): r.sparse["forward"] for r in rep.layers if r.op_class in ("topk", "topk_kept")}


def test_selection_periods_spread_weight_and_input_top_k():
    model = build_model("cnn")
    trace = trace_model(model, (1, 8, 8), 16)
    every = count_from_trace(trace, weight_sparsity=0.9)
    fixed = count_from_trace(trace, weight_sparsity=0.9, selection_periods=(4, 1))
    frozen = count_from_trace(trace, weight_sparsity=0.9, selection_periods=(4, 4))
    sparsified = {r.name for r in every.layers if r.op_class == "gemm" and r.sparsified}
    inputs: dict[str, int] = {}
    mods = dict(model.named_modules())
    hooks = [mods[n].register_forward_hook(lambda m, i, o, n=n: inputs.__setitem__(n, i[0].numel())) for n in sparsified]
    model(torch.zeros(16, 1, 8, 8))
    for h in hooks:
        h.remove()
    assert sorted(sparsified) == ["3", "7", "9"]  # the first conv stays dense
    for name in sparsified:
        (cw, kw), (cx, kx) = topk_counts(mods[name].weight.numel(), 0.1), topk_counts(inputs[name], 0.1)
        assert _topk_rows(every)[(name, "topk")] == cw + cx
        assert _topk_rows(fixed)[(name, "topk")] == round(cw / 4) + cx
        assert _topk_rows(frozen)[(name, "topk_kept")] == round(kw / 4) + round(kx / 4)
    assert frozen.totals["sparse"]["total"] == every.totals["sparse"]["total"]  # top-k stays out of FLOPs
    assert frozen.totals["sparse"]["topk"] < fixed.totals["sparse"]["topk"] < every.totals["sparse"]["topk"]
    with pytest.raises(BadInputError, match="selection periods"):
        count_from_trace(trace, weight_sparsity=0.9, selection_periods=(0, 1))
