"""GEMM formulas (convolution, mm/addmm/bmm): forward, and backward reusing forward on transposed shapes.

Convention (as ``torch.utils.flop_counter``): 1 multiply-add = 2 FLOPs, the bias is not part of
the GEMM (it gets its own ``bias_add`` cost), padded positions count like any other. Forward
counts therefore equal torch's exactly. Backward: the input gradient is a transposed
convolution of the output gradient with the weight, the weight gradient a convolution of the
(transposed) input with the (transposed) output gradient, done group by group. torch's
``conv_backward`` formula does the weight-gradient convolution over all input channels at once,
ignoring ``groups``, and so overcounts it by the group count; here each group only sees its own
``C_in/g`` input and ``C_out/g`` output channels, which makes the weight gradient cost exactly the
forward cost for every conv, grouped or not.
"""

from __future__ import annotations

from math import prod
from typing import Sequence

from .records import Cost, OpRecord, TensorInfo
from .registry import register


def conv_flop_count(x_shape: Sequence[int], w_shape: Sequence[int], out_shape: Sequence[int],
                    transposed: bool = False) -> int:
    """FLOPs of one convolution from shapes (same convention as torch, so totals compare exactly).

    Each output position (each input position for a transposed conv) of each of ``w[0]`` filters
    does ``w[1] * prod(kernel)`` multiply-adds, for each of ``x[0]`` batch entries.
    """
    conv_shape = (x_shape if transposed else out_shape)[2:]
    c_out, c_in, *kernel = w_shape
    return 2 * x_shape[0] * prod(conv_shape) * prod(kernel) * c_out * c_in


def _t(shape: Sequence[int]) -> list[int]:
    """Swap the first two dims (batch <-> channel), as the backward decompositions do."""
    return [shape[1], shape[0], *shape[2:]]


def _with_channels(shape: Sequence[int], channels: int) -> list[int]:
    return [shape[0], channels, *shape[2:]]


def conv_backward_input_count(x_shape: Sequence[int], w_shape: Sequence[int], out_shape: Sequence[int],
                              transposed: bool = False) -> int:
    """grad_input = conv_transpose(grad_out, weight): the forward formula on swapped roles."""
    return conv_flop_count(out_shape, w_shape, x_shape, not transposed)


def conv_backward_weight_count(x_shape: Sequence[int], w_shape: Sequence[int], out_shape: Sequence[int],
                               groups: int = 1, transposed: bool = False) -> int:
    """grad_weight = conv(t(x_g), t(grad_out_g)) per group: the forward formula on transposed shapes."""
    g = max(int(groups), 1)
    c_in, c_out = x_shape[1], out_shape[1]
    x_g = _with_channels(x_shape, c_in // g)
    dy_g = _with_channels(out_shape, c_out // g)
    if transposed:  # grad_weight of a transposed conv = conv(t(grad_out), t(input))
        gw_g = [c_out // g, c_in // g, *w_shape[2:]]
        return g * conv_flop_count(_t(dy_g), _t(x_g), gw_g)
    gw_g = [c_in // g, c_out // g, *w_shape[2:]]
    return g * conv_flop_count(_t(x_g), _t(dy_g), gw_g)


def _bias_cost(bias: TensorInfo | None, out: TensorInfo) -> list[Cost]:
    """One add per output element forward; one add per output element to reduce the bias gradient."""
    if bias is None:
        return []
    n = out.numel
    return [Cost("elementwise", forward=n, backward_weight=n if bias.requires_grad else 0,
                 weights=bias.numel, inputs=n, outputs=n, needs_weight_grad=bias.requires_grad, label="bias_add")]


@register("convolution", "_convolution", "cudnn_convolution", "_slow_conv2d_forward", "convolution_overrideable")
def conv_formula(rec: OpRecord) -> list[Cost]:
    """Conv forward + both backward phases (each only when its gradient is needed) + bias.

    Op class ``gemm_grouped`` for a depthwise convolution (one input channel per group, groups > 1:
    PyTorch's ``ConvParams::is_depthwise``, which sends it to dedicated depthwise kernels), else
    ``gemm``: a grouped convolution with several input channels per group (ResNeXt's) is a set of
    ordinary GEMMs, whose smaller size the efficiency curve prices.
    """
    x, w = rec.args[0], rec.args[1]
    bias = rec.args[2] if isinstance(rec.args[2], TensorInfo) else None
    transposed = bool(rec.args[6]) if len(rec.args) > 6 else False
    groups = int(rec.args[8]) if len(rec.args) > 8 else 1
    out = rec.out
    fwd = conv_flop_count(x.shape, w.shape, out.shape, transposed)
    bi = conv_backward_input_count(x.shape, w.shape, out.shape, transposed) if x.requires_grad else 0
    bw = conv_backward_weight_count(x.shape, w.shape, out.shape, groups, transposed) if w.requires_grad else 0
    depthwise = groups > 1 and not transposed and x.shape[1] == groups
    cls = "gemm_grouped" if depthwise else "gemm"  # depthwise: its own kernel on every device
    shape = None
    if groups == 1 and not transposed:  # the product a runtime's GEMM sees: (N*out pixels x C_in*k) (x C_out)
        shape = ("conv", x.shape[0] * prod(out.shape[2:]), w.shape[1] * prod(w.shape[2:]), w.shape[0])
    gemm = Cost(cls, forward=fwd, backward_input=bi, backward_weight=bw, weights=w.numel, inputs=x.numel,
                outputs=out.numel, needs_input_grad=x.requires_grad, needs_weight_grad=w.requires_grad,
                gemm=shape)
    return [gemm, *_bias_cost(bias, out)]


def mm_flop_count(a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
    """(m x k) @ (k x n), optionally batched: 2 * m * k * n per batch entry."""
    *batch, m, k = a_shape
    n = b_shape[-1]
    return 2 * prod(batch) * m * k * n


def _swap_last(shape: Sequence[int]) -> list[int]:
    return [*shape[:-2], shape[-1], shape[-2]]


def _matmul_costs(a: TensorInfo, b: TensorInfo, out: TensorInfo, bias: TensorInfo | None) -> list[Cost]:
    """A product a @ b; the operand that is a parameter (b when neither is) plays the weight."""
    weight_is_a = a.is_param and not b.is_param
    act, wt = (b, a) if weight_is_a else (a, b)
    fwd = mm_flop_count(a.shape, b.shape)
    # grad wrt a = dy @ b^T ; grad wrt b = a^T @ dy: the forward formula on transposed operands.
    grad_a = mm_flop_count(out.shape, _swap_last(b.shape))
    grad_b = mm_flop_count(_swap_last(a.shape), out.shape)
    g_act, g_wt = (grad_b, grad_a) if weight_is_a else (grad_a, grad_b)
    shape = None
    if not weight_is_a and len(b.shape) == 2 and len(a.shape) >= 2:  # x (.. x K) @ W (K x M): a linear layer
        shape = ("matmul", prod(a.shape[:-1]), a.shape[-1], b.shape[-1])
    gemm = Cost("gemm", forward=fwd, backward_input=g_act if act.requires_grad else 0,
                backward_weight=g_wt if wt.requires_grad else 0, weights=wt.numel, inputs=act.numel,
                outputs=out.numel, needs_input_grad=act.requires_grad, needs_weight_grad=wt.requires_grad,
                gemm=shape)
    return [gemm, *_bias_cost(bias, out)]


@register("mm", "bmm", "_scaled_mm")
def mm_formula(rec: OpRecord) -> list[Cost]:
    """Matrix product (a Linear without bias, or a batched product)."""
    return _matmul_costs(rec.args[0], rec.args[1], rec.out, None)


@register("addmm", "baddbmm")
def addmm_formula(rec: OpRecord) -> list[Cost]:
    """bias + a @ b (a Linear with bias): the GEMM row plus a ``bias_add`` row."""
    bias = rec.args[0] if isinstance(rec.args[0], TensorInfo) else None
    return _matmul_costs(rec.args[1], rec.args[2], rec.out, bias)
