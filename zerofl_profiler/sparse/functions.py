"""SWAT custom autograd functions for Conv2d and Linear: the math only, masks come in ready-made.

The layer (``layers.SwatMixin``) hands over the input x, the sparse input x_sp (top-k of x over
the whole batch tensor, computed before it is saved), the dense weight and the sparse weight
w_sp. Forward is ``op(x, w_sp)``. Backward computes the input gradient with w_sp and the weight
gradient with x_sp; the output gradient stays dense and the gradient lands on the dense weight,
so pruned weights can come back.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


class SwatConv2dFn(torch.autograd.Function):
    """conv2d with SWAT's sparse forward weights and sparse saved activations."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                x_sp: torch.Tensor, w_sp: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int],
                dilation: tuple[int, int], groups: int) -> torch.Tensor:
        ctx.save_for_backward(x_sp, w_sp)
        ctx.conv = (stride, padding, dilation, groups)
        ctx.has_bias = bias is not None
        return F.conv2d(x, w_sp, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        x_sp, w_sp = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conv
        need = ctx.needs_input_grad
        # grad-input depends only on the weight argument, grad-weight only on the input argument:
        # passing (x_sp, w_sp) gives exactly SWAT's pair in one aten call.
        gi, gw, gb = torch.ops.aten.convolution_backward(
            grad_out, x_sp, w_sp, [w_sp.shape[0]] if ctx.has_bias else None, list(stride), list(padding),
            list(dilation), False, [0, 0], groups, [bool(need[0]), bool(need[1]), bool(ctx.has_bias and need[2])])
        return gi, gw, gb, None, None, None, None, None, None


class SwatLinearFn(torch.autograd.Function):
    """linear with SWAT's sparse forward weights and sparse saved activations."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                x_sp: torch.Tensor, w_sp: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x_sp, w_sp)
        ctx.has_bias = bias is not None
        return F.linear(x, w_sp, bias)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        x_sp, w_sp = ctx.saved_tensors
        need = ctx.needs_input_grad
        g2 = grad_out.reshape(-1, grad_out.shape[-1])
        gi = grad_out.matmul(w_sp) if need[0] else None
        gw = g2.t().matmul(x_sp.reshape(-1, x_sp.shape[-1])) if need[1] else None
        gb = g2.sum(0) if (ctx.has_bias and need[2]) else None
        return gi, gw, gb, None, None


# ---------------------------------------------------------------- the same math on torch's own backward nodes
#: autograd node -> its saved slot holding the op's input (slot names follow torch's derivatives.yaml)
_INPUT_SLOTS = {"ConvolutionBackward0": "_raw_saved_input", "AddmmBackward0": "_raw_saved_mat1",
                "MmBackward0": "_raw_saved_self"}


class _NotTheInput(RuntimeError):
    """The node's saved slot holds some other tensor than the op's input (another torch version)."""


def _unpack(t: torch.Tensor) -> torch.Tensor:
    return t


def straight_through(w: torch.Tensor, w_sp: torch.Tensor) -> torch.Tensor:
    """A tensor whose value is w_sp and whose gradient goes to w unchanged (so pruned weights can come back).

    ``w + (w_sp - w)`` is w_sp exactly: kept entries add +0.0, dropped ones give w - w = +0.0.
    """
    return w + (w_sp - w.detach())


def save_sparse_input(out: torch.Tensor, x: torch.Tensor, x_sp: torch.Tensor) -> bool:
    """Make the backward node of ``out = op(x, w)`` keep x_sp where it kept x; False where it cannot.

    A hook on that one saved tensor (``register_hooks``) swaps it when the op saves it, so torch's
    own C++ backward then computes the weight gradient from x_sp, with no Python backward. False
    (the caller then uses the custom Function) when the node is not one of ``_INPUT_SLOTS``, the slot
    holds another tensor, or saved-tensor hooks are already set (a ``saved_tensors_hooks`` context).
    """
    node = out.grad_fn
    slot = getattr(node, _INPUT_SLOTS.get(type(node).__name__, ""), None)
    if slot is None:
        return False
    ptr, shape = x.data_ptr(), x.shape

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() != ptr or t.shape != shape:
            raise _NotTheInput
        return x_sp

    try:
        slot.register_hooks(pack, _unpack)
    except RuntimeError:
        return False
    return True
