"""The SWAT layers' path on torch's own op and backward node against the custom autograd Functions."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from zerofl_profiler.sparse.functions import SwatConv2dFn, SwatLinearFn, native_path_ok
from zerofl_profiler.sparse.layers import to_swat
from zerofl_profiler.sparse.masks import topk_mask


def _twins(layer: nn.Module, fn: type, schedule: str) -> tuple[nn.Module, nn.Module]:
    """(native path, custom-Function path) copies of one SWAT layer, same weights and schedule."""
    native = to_swat("l", copy.deepcopy(layer), 0.7, 0.6, 3, schedule)
    ref = to_swat("l", copy.deepcopy(layer), 0.7, 0.6, 3, schedule)
    assert native._fn is None
    ref._fn = fn
    return native, ref


def _run(layer: nn.Module, xs: list[torch.Tensor], gouts: list[torch.Tensor]) -> list[torch.Tensor]:
    """Outputs and gradients of a few SGD steps (steps 1-2 reuse the refresh's masks or thresholds)."""
    opt = torch.optim.SGD(layer.parameters(), lr=0.3)
    got = []
    for x0, g in zip(xs, gouts):
        x = x0.detach().clone().requires_grad_(True)
        x_in = x.transpose(-1, -2) if x.dim() == 4 else x  # non-contiguous for conv
        opt.zero_grad()
        out = layer(x_in)
        out.backward(g)
        got += [out.detach(), x.grad] + [p.grad.clone() for p in layer.parameters()]
        opt.step()
    return got


@pytest.mark.parametrize("schedule", ["fixed-positions", "swat-threshold"])
@pytest.mark.parametrize("bias,groups,stride,padding", [(True, 1, 1, 1), (False, 2, 2, 0), (True, 4, 1, 2)])
def test_conv_equals_the_function_bit_for_bit(schedule, bias, groups, stride, padding):
    g = torch.Generator().manual_seed(11)
    layer = nn.Conv2d(4, 8, 3, stride=stride, padding=padding, groups=groups, bias=bias)
    native, ref = _twins(layer, SwatConv2dFn, schedule)
    xs = [torch.randn(3, 4, 7, 7, generator=g).relu() for _ in range(3)]
    shape = layer(xs[0].transpose(-1, -2)).shape
    gouts = [torch.randn(shape, generator=g) for _ in range(3)]
    for a, b in zip(_run(native, xs, gouts), _run(ref, xs, gouts)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("schedule", ["fixed-positions", "swat-threshold"])
@pytest.mark.parametrize("bias,shape", [(True, (6, 12)), (False, (6, 12)), (True, (2, 3, 12)), (True, (12,))])
def test_linear_equals_the_function(schedule, bias, shape):
    g = torch.Generator().manual_seed(12)
    layer = nn.Linear(12, 5, bias=bias)
    native, ref = _twins(layer, SwatLinearFn, schedule)
    xs = [torch.randn(shape, generator=g) for _ in range(3)]
    if len(shape) == 3:
        xs = [x.transpose(0, 1).contiguous().transpose(0, 1) for x in xs]  # non-contiguous N-D input
    gouts = [torch.randn(*shape[:-1], 5, generator=g) for _ in range(3)]
    for a, b in zip(_run(native, xs, gouts), _run(ref, xs, gouts)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_saved_tensor_hooks_fall_back_to_the_function():
    """Under saved_tensors_hooks the op's input is packed before any swap: the Function keeps SWAT's gradients."""
    g = torch.Generator().manual_seed(13)
    layer = nn.Conv2d(3, 4, 3, padding=1)
    native, ref = _twins(layer, SwatConv2dFn, "fixed-positions")
    xs = [torch.randn(2, 3, 5, 5, generator=g)]
    gouts = [torch.randn(2, 4, 5, 5, generator=g)]
    packed = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(1) or t, lambda t: t):
        assert not native_path_ok("cpu")
        got = _run(native, xs, gouts)
    assert packed and native_path_ok("cpu")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not native_path_ok("cpu")  # autocast saves a cast copy of the input: the Function it is
    for a, b in zip(got, _run(ref, xs, gouts)):
        assert torch.equal(a, b)


def test_dense_weight_is_untouched_and_gets_the_unmasked_gradient():
    """The sparse view swaps storage only: the parameter keeps every value, and pruned weights get gradient."""
    torch.manual_seed(0)
    layer = to_swat("l", nn.Linear(10, 4), 0.8, 0.5, 1)
    w0, version = layer.weight.detach().clone(), layer.weight._version
    x = torch.randn(3, 10, requires_grad=True).relu()  # relu saves its output: a changed version would fail backward
    x_version = x._version
    out = layer(x)
    assert torch.equal(layer.weight.detach(), w0) and layer.weight._version == version and x._version == x_version
    out.sum().backward()
    pruned = topk_mask(w0, 0.2).logical_not()
    assert bool((layer.weight.grad[pruned] != 0).any())


@pytest.mark.parametrize("schedule", ["fixed-positions", "swat-threshold"])
def test_overlapped_selections_equal_sequential_ones(monkeypatch, schedule):
    """At 2+ threads the weights' top-k runs in the worker thread beside the input's: same masks, grads, stats."""
    from zerofl_profiler.sparse import layers

    g = torch.Generator().manual_seed(14)
    layer = nn.Conv2d(8, 16, 3, padding=1)
    xs = [torch.randn(4, 8, 6, 6, generator=g) for _ in range(3)]
    gouts = [torch.randn(4, 16, 6, 6, generator=g) for _ in range(3)]
    threads = torch.get_num_threads()
    got = {}
    handoffs = []
    real_worker = layers._worker
    monkeypatch.setattr(layers, "_worker", lambda: handoffs.append(1) or real_worker())
    try:
        torch.set_num_threads(2)
        for name, start in (("overlap", 1), ("sequential", 1 << 62)):
            monkeypatch.setattr(layers, "OVERLAP_FROM", start)
            swat = to_swat("c", copy.deepcopy(layer), 0.7, 0.6, 2, schedule)
            got[name] = (_run(swat, xs, gouts), swat.density_stats.mean(),
                         swat.density_stats.work(swat.weight_density, swat.activation_density))
    finally:
        torch.set_num_threads(threads)
    (a, da, wa), (b, db, wb) = got["overlap"], got["sequential"]
    assert all(torch.equal(u, v) for u, v in zip(a, b)) and da == db and wa == wb
    assert handoffs  # the overlapped run did hand the weights' selection to the worker


def test_input_without_grad_still_gives_the_sparse_weight_gradient():
    """A first layer's input needs no gradient; the weight gradient still comes from the sparse input."""
    torch.manual_seed(0)
    layer = nn.Conv2d(3, 4, 3, padding=1)
    native, ref = _twins(layer, SwatConv2dFn, "fixed-positions")
    x, g = torch.randn(2, 3, 5, 5), torch.randn(2, 4, 5, 5)
    native(x).backward(g)
    ref(x).backward(g)
    assert torch.equal(native.weight.grad, ref.weight.grad) and torch.equal(native.bias.grad, ref.bias.grad)


def test_self_check_passes_on_this_build_and_a_failing_check_falls_back(monkeypatch):
    """The once-per-device check agrees with aten's backward here; where it does not, the Function runs."""
    from zerofl_profiler.sparse import functions, layers

    assert functions._self_check("cpu") is True
    monkeypatch.setattr(functions, "_CHECKED", {})
    monkeypatch.setattr(functions, "_self_check", lambda device_type: False)
    assert native_path_ok("cpu") is False
    calls = []

    class Counting(SwatConv2dFn):
        @staticmethod
        def forward(ctx, *args):  # type: ignore[override]
            calls.append(1)
            return SwatConv2dFn.forward(ctx, *args)

    monkeypatch.setattr(layers, "SwatConv2dFn", Counting)
    layer = to_swat("l", nn.Conv2d(3, 4, 3, padding=1), 0.7, 0.6, 1)
    layer(torch.randn(2, 3, 6, 6, requires_grad=True)).sum().backward()
    assert calls == [1] and layer.weight.grad is not None
