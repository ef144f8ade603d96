"""SWAT autograd against a masked dense reference whose masks come from numpy argsort."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zerofl_profiler.sparse.layers import SwatConv2d, SwatLinear, to_swat


def np_topk_mask(t: torch.Tensor, density: float) -> torch.Tensor:
    """Independent reference: keep the round(density*n) largest |t| via numpy argsort."""
    a = t.detach().numpy().ravel()
    k = max(1, int(np.floor(density * a.size + 0.5)))
    keep = np.argsort(-np.abs(a), kind="stable")[:k]
    m = np.zeros(a.size, dtype=bool)
    m[keep] = True
    return torch.from_numpy(m.reshape(t.shape))


def _conv_case(seed: int, ws: float, as_: float, stride: int = 1, padding: int = 1, groups: int = 1):
    g = torch.Generator().manual_seed(seed)
    conv = nn.Conv2d(4, 6, 3, stride=stride, padding=padding, groups=groups, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g))
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=g))
    x = torch.randn(5, 4, 9, 9, generator=g)
    gout_shape = conv(x).shape
    gout = torch.randn(gout_shape, generator=g)
    return conv, x, gout


@pytest.mark.parametrize("ws,as_,stride,padding,groups", [
    (0.7, 0.6, 1, 1, 1), (0.9, 0.9, 2, 0, 1), (0.5, 0.8, 1, 1, 2), (0.0, 0.5, 1, 1, 1), (0.8, 0.0, 1, 1, 1)])
def test_conv_grads_match_masked_reference(ws, as_, stride, padding, groups):
    conv, x, gout = _conv_case(0, ws, as_, stride, padding, groups)
    w0 = conv.weight.detach().clone()
    b0 = conv.bias.detach().clone()
    wmask = np_topk_mask(w0, 1 - ws)
    amask = np_topk_mask(x, 1 - as_)
    # reference pieces, each from plain dense autograd
    w_sp = (w0 * wmask).requires_grad_(True)
    xr = x.clone().requires_grad_(True)
    out_ref = F.conv2d(xr, w_sp, b0, stride, padding, 1, groups)
    gi_ref, = torch.autograd.grad(out_ref, xr, gout)
    wr = w0.clone().requires_grad_(True)
    br = b0.clone().requires_grad_(True)
    out_w = F.conv2d(x * amask, wr, br, stride, padding, 1, groups)
    gw_ref, gb_ref = torch.autograd.grad(out_w, (wr, br), gout)

    to_swat("c", conv, ws, as_, 1)
    assert isinstance(conv, SwatConv2d)
    xs = x.clone().requires_grad_(True)
    out = conv(xs)
    out.backward(gout)
    torch.testing.assert_close(out, out_ref.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(xs.grad, gi_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(conv.weight.grad, gw_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(conv.bias.grad, gb_ref, rtol=1e-5, atol=1e-5)


def test_conv_weight_grad_differs_from_dense_activation_grad():
    conv, x, gout = _conv_case(1, 0.9, 0.9)
    w0 = conv.weight.detach().clone()
    wr = w0.clone().requires_grad_(True)
    gw_dense_act, = torch.autograd.grad(F.conv2d(x, wr * np_topk_mask(w0, 0.1), conv.bias.detach(), 1, 1), wr, gout)
    to_swat("c", conv, 0.9, 0.9, 1)
    conv(x).backward(gout)
    diff = (conv.weight.grad - gw_dense_act).abs().max().item()
    assert diff > 1e-2 * gw_dense_act.abs().max().item()
    # the dense-activation variant would zero pruned weights' gradient; SWAT's lands on all weights
    pruned = ~np_topk_mask(w0, 0.1)
    assert conv.weight.grad[pruned].abs().sum() > 0


@pytest.mark.parametrize("ws,as_", [(0.75, 0.5), (0.9, 0.95), (0.0, 0.3)])
def test_linear_grads_match_masked_reference(ws, as_):
    g = torch.Generator().manual_seed(3)
    lin = nn.Linear(12, 7)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(lin.weight.shape, generator=g))
    x = torch.randn(6, 12, generator=g)
    gout = torch.randn(6, 7, generator=g)
    w0, b0 = lin.weight.detach().clone(), lin.bias.detach().clone()
    w_sp = w0 * np_topk_mask(w0, 1 - ws)
    xr = x.clone().requires_grad_(True)
    gi_ref, = torch.autograd.grad(F.linear(xr, w_sp, b0), xr, gout)
    gw_ref = gout.t() @ (x * np_topk_mask(x, 1 - as_))
    to_swat("l", lin, ws, as_, 1)
    assert isinstance(lin, SwatLinear)
    xs = x.clone().requires_grad_(True)
    out = lin(xs)
    torch.testing.assert_close(out, F.linear(x, w_sp, b0))
    out.backward(gout)
    torch.testing.assert_close(xs.grad, gi_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lin.weight.grad, gw_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lin.bias.grad, gout.sum(0))
    if as_ > 0:
        dense_act = gout.t() @ x
        assert not torch.allclose(lin.weight.grad, dense_act, atol=1e-3)


def test_activation_topk_spans_the_whole_batch_not_each_sample():
    lin = nn.Linear(4, 1, bias=False)
    to_swat("l", lin, 0.0, 0.5, 1)
    # sample 0 holds all the large entries: a per-sample top-k would keep 2 entries of each row
    x = torch.tensor([[10.0, 9.0, 8.0, 7.0], [0.1, 0.2, 0.3, 0.4]])
    lin(x).backward(torch.ones(2, 1))
    torch.testing.assert_close(lin.weight.grad, torch.tensor([[10.0, 9.0, 8.0, 7.0]]))
