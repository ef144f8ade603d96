"""Real sparse kernels give SWAT's gradients: each path against the masked dense reference."""

from __future__ import annotations

import pytest
import torch

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.sparse.functions import SwatConv2dFn, SwatLinearFn
from zerofl_profiler.sparse.kernels import CsrConv2dFn, CsrLinearFn, check_modes, choose_kernel, nm_mask
from zerofl_profiler.sparse.masks import topk_mask, topk_sparsify


def _pair(fn_a, fn_b, x, w, b, mask, act_density, *extra):
    """Both functions on the same inputs; SWAT's sparse operands are built as the layer builds them."""
    outs = []
    x_sp = topk_sparsify(x, act_density)
    w_sp = w * mask
    for fn in (fn_a, fn_b):
        xa, wa, ba = (t.detach().clone().requires_grad_(True) for t in (x, w, b))
        y = fn.apply(xa, wa, ba, x_sp, w_sp, *extra)
        (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
        outs.append((y.detach(), xa.grad, wa.grad, ba.grad))
    return outs


@pytest.mark.parametrize("density", [0.5, 0.1, 0.02])
def test_csr_linear_matches_masked_dense(density):
    torch.manual_seed(0)
    x, w, b = torch.randn(6, 7, 40), torch.randn(24, 40), torch.randn(24)
    mask = topk_mask(w, density)
    ref, got = _pair(SwatLinearFn, CsrLinearFn, x, w, b, mask, density)
    for r, g in zip(ref, got):
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride, padding, dilation", [((1, 1), (1, 1), (1, 1)), ((2, 2), (0, 1), (1, 1)),
                                                       ((1, 1), (2, 2), (2, 2))])
def test_csr_conv_matches_masked_dense(stride, padding, dilation):
    torch.manual_seed(1)
    x, w, b = torch.randn(3, 5, 11, 9), torch.randn(8, 5, 3, 3), torch.randn(8)
    mask = topk_mask(w, 0.2)
    ref, got = _pair(SwatConv2dFn, CsrConv2dFn, x, w, b, mask, 0.3, stride, padding, dilation, 1)
    for r, g in zip(ref, got):
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5)


def test_nm_mask_keeps_the_two_largest_of_each_group_of_four():
    w = torch.tensor([[1.0, -5.0, 3.0, 0.5, 0.1, 0.2, -0.3, 0.05]])
    m = nm_mask(w)
    assert m.tolist() == [[False, True, True, False, False, True, True, False]]
    conv = torch.randn(4, 3, 2, 2)  # reduction 12: three groups of four per output channel
    mc = nm_mask(conv).reshape(4, 3, 4)
    assert (mc.sum(-1) == 2).all()
    with pytest.raises(BadInputError, match="multiple of 4, got 6"):
        nm_mask(torch.randn(2, 6))


def test_modes_are_checked_before_any_work():
    with pytest.raises(BadInputError, match="--sparse-kernels must be one of"):
        check_modes("cusparse", "unstructured")
    with pytest.raises(BadInputError, match="--mask-structure must be one of"):
        check_modes("off", "4:8")
    if not torch.cuda.is_available():
        with pytest.raises(BadInputError, match="semi-structured needs a CUDA GPU"):
            check_modes("semi-structured", "2:4")


def test_auto_uses_csr_only_below_the_measured_break_even():
    w = torch.randn(16, 16)
    assert choose_kernel("linear", w, 0.05, "auto", "unstructured", break_even_density=None).kernel == "dense"
    assert choose_kernel("linear", w, 0.05, "auto", "unstructured", break_even_density=0.05).kernel == "csr"
    c = choose_kernel("linear", w, 0.1, "auto", "unstructured", break_even_density=0.05)
    assert c.kernel == "dense" and "dense kernel is faster" in c.reason
    assert choose_kernel("conv2d", w, 0.1, "csr", "unstructured", groups=4).kernel == "dense"


@pytest.mark.gpu
def test_semi_structured_forward_matches_masked_dense():
    from zerofl_profiler.sparse.kernels import SemiStructuredLinearFn, semi_structured_supported

    why = semi_structured_supported()
    if why is not None:
        pytest.skip(why)
    torch.manual_seed(0)
    x = torch.randn(128, 256, device="cuda", dtype=torch.float16)
    w = torch.randn(128, 256, device="cuda", dtype=torch.float16)
    b = torch.randn(128, device="cuda", dtype=torch.float16)
    mask = nm_mask(w)
    ref, got = _pair(SwatLinearFn, SemiStructuredLinearFn, x, w, b, mask, 0.5)
    for r, g in zip(ref, got):
        torch.testing.assert_close(g, r, rtol=2e-2, atol=2e-2)


def _one_step_grads(cfg, seed=0):
    from zerofl_profiler.models import build_model
    from zerofl_profiler.sparse import sparsify

    torch.manual_seed(seed)
    model = sparsify(build_model("cnn", 10, (1, 8, 8)), cfg)
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return model, loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def test_a_csr_model_trains_with_the_masked_dense_gradients():
    from zerofl_profiler.sparse import SparseConfig
    from zerofl_profiler.sparse.sparsify import kernel_choices

    _, l_ref, g_ref = _one_step_grads(SparseConfig(weight_sparsity=0.9))
    model, l_csr, g_csr = _one_step_grads(SparseConfig(weight_sparsity=0.9, kernels="csr"))
    choices = kernel_choices(model)
    assert choices and all(c.kernel == "csr" for c in choices.values())
    torch.testing.assert_close(l_csr, l_ref, rtol=1e-5, atol=1e-6)
    for n in g_ref:
        torch.testing.assert_close(g_csr[n], g_ref[n], rtol=1e-4, atol=1e-5)


def test_a_2_4_mask_keeps_half_of_every_group_and_needs_sparsity_one_half():
    from zerofl_profiler.sparse import SparseConfig
    from zerofl_profiler.sparse.sparsify import swat_layers

    model, _, _ = _one_step_grads(SparseConfig(weight_sparsity=0.5, mask_structure="2:4"))
    for layer in swat_layers(model).values():
        w_sp = layer._eval_weight()  # the 2:4-masked weights the layer uses
        m = (w_sp != 0).reshape(layer.weight.shape[0], -1, 4)
        assert (m.sum(-1) == 2).all()
    with pytest.raises(BadInputError, match="weight sparsity must be 0.5, got 0.9"):
        SparseConfig(weight_sparsity=0.9, mask_structure="2:4")


def test_a_2_4_mask_on_a_layer_whose_reduction_is_not_a_multiple_of_4_is_one_line():
    from zerofl_profiler.sparse import SparseConfig, sparsify

    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    with pytest.raises(BadInputError, match=r"layer '0': a 2:4 mask needs .* multiple of 4, got 6"):
        sparsify(model, SparseConfig(weight_sparsity=0.5, mask_structure="2:4", dense_layers=()))
