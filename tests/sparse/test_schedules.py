"""Mask schedules: SWAT's frozen thresholds against a masked dense reference, and the selections each runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.vocab import MASK_SCHEDULES
from zerofl_profiler.sparse import SCHEDULES, SparseConfig, collect_mask_work, keep_count, reset_masks
from zerofl_profiler.sparse.layers import to_swat


def np_kth_largest(t: torch.Tensor, density: float) -> float:
    """Independent reference for the k-th largest |t| (numpy sort)."""
    a = np.sort(np.abs(t.detach().numpy().ravel()))[::-1]
    return float(a[max(1, int(np.floor(density * a.size + 0.5))) - 1])


def test_schedule_names_agree_with_the_torch_free_config():
    assert tuple(SCHEDULES) == MASK_SCHEDULES
    with pytest.raises(BadInputError, match="mask schedule"):
        SparseConfig(0.5, mask_schedule="frozen")
    assert SparseConfig(0.5, mask_every=4).selection_periods == (4, 1)
    assert SparseConfig(0.5, mask_every=4, mask_schedule="swat-threshold").selection_periods == (4, 4)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_swat_threshold_grads_match_masked_reference(kind):
    """Step 0 keeps the exact top-k; steps 1-2 keep |w| >= v_w and |x| >= v_x with v frozen at step 0."""
    g = torch.Generator().manual_seed(7)
    ws, as_, every = 0.7, 0.6, 3
    layer = nn.Linear(12, 5) if kind == "linear" else nn.Conv2d(3, 4, 3, padding=1)
    shape = (6, 12) if kind == "linear" else (2, 3, 6, 6)
    op = (lambda x, w, b: F.linear(x, w, b)) if kind == "linear" else (lambda x, w, b: F.conv2d(x, w, b, 1, 1))
    to_swat("l", layer, ws, as_, every, "swat-threshold")
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    v_w = v_x = None
    kept_x = []
    for step in range(every):
        x = torch.randn(shape, generator=g)
        w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
        if step == 0:
            v_w, v_x = np_kth_largest(w0, 1 - ws), np_kth_largest(x, 1 - as_)
        w_sp = w0 * (w0.abs() >= v_w)
        x_sp = x * (x.abs() >= v_x)
        kept_x.append(int(torch.count_nonzero(x_sp)))
        gout = torch.randn(op(x, w0, b0).shape, generator=g)
        xr = x.clone().requires_grad_(True)
        gi_ref, = torch.autograd.grad(op(xr, w_sp, b0), xr, gout)
        wr, br = w0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
        gw_ref, gb_ref = torch.autograd.grad(op(x_sp, wr, br), (wr, br), gout)

        opt.zero_grad()
        xs = x.clone().requires_grad_(True)
        out = layer(xs)
        torch.testing.assert_close(out, op(x, w_sp, b0), rtol=1e-5, atol=1e-5)
        out.backward(gout)
        torch.testing.assert_close(xs.grad, gi_ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(layer.weight.grad, gw_ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(layer.bias.grad, gb_ref, rtol=1e-5, atol=1e-5)
        opt.step()
    assert kept_x[0] == keep_count(int(np.prod(shape)), 1 - as_)
    assert len(set(kept_x)) > 1  # the frozen threshold lets the kept count drift
    # the recorded densities are the real kept fractions, not the configured one
    d = layer.density_stats.mean()
    assert d["activation"] == pytest.approx(np.mean(kept_x) / np.prod(shape))


@pytest.mark.parametrize("schedule,every,expect", [
    ("fixed-positions", 1, (7, 7)), ("fixed-positions", 3, (3, 7)), ("swat-threshold", 3, (3, 3)),
])
def test_selections_run_only_on_refresh_steps(schedule, every, expect):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 3))
    to_swat("0", net[0], 0.5, 0.5, every, schedule)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(7):
        opt.zero_grad()
        net(torch.randn(4, 10)).sum().backward()
        opt.step()
    work = collect_mask_work(net)["0"]
    assert (sum(c for _, c in work.weight), sum(c for _, c in work.activation)) == expect
    assert work.weight[0][0] == 80 and work.activation[0][0] == 40
    reset_masks(net)
    net[0].density_stats.reset()
    assert collect_mask_work(net)["0"].weight == ()


def test_unchanged_weights_reuse_the_weight_top_k():
    lin = nn.Linear(10, 4)
    to_swat("l", lin, 0.5, 0.0, 1)
    for _ in range(3):  # no optimizer step: the weights (and their version) never change
        lin(torch.randn(2, 10)).sum().backward()
    work = lin.density_stats.work(lin.weight_density, lin.activation_density)
    assert work.weight == ((40, 1),)
    assert lin.density_stats.steps == 3
