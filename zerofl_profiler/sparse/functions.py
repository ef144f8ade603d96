"""SWAT's training-step math for Conv2d and Linear, on two paths that give the same numbers.

The layer (``layers.SwatMixin``) brings the input x, the sparse input x_sp (top-k of x over the
whole batch tensor), the dense weight and the sparse weight w_sp. Forward is ``op(x, w_sp)``;
backward computes the input gradient with w_sp and the weight gradient with x_sp; the output
gradient stays dense and the gradient lands on the dense weight, so pruned weights can come back.

- Native path (dense kernels, the default): torch's own ``F.conv2d``/``F.linear`` on two views,
  ``sparse_view(w, w_sp)`` and a view of x that ``swap_saved`` points at x_sp once the forward
  has run; torch's C++ backward node then reads exactly SWAT's pair, with no Python backward
  (measured on the ``cnn`` model's SWAT conv, 1 thread: 13 us over a plain conv2d forward and
  backward, against 41 us for the Function).
- Custom Functions (``SwatConv2dFn``, ``SwatLinearFn``): the same math with a Python backward,
  used under ``saved_tensors_hooks`` or autocast (``native_path_ok``) and as the reference the sparse
  kernels (``kernels.py``) reuse.
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


# ------------------------------------------------ the same math on torch's own op and backward node
_TOP_HOOKS = getattr(torch._C._autograd, "_top_saved_tensors_default_hooks", None)


#: device type -> whether the native path passed its self-check there (``_self_check``)
_CHECKED: dict[str, bool] = {}


def native_path_ok(device_type: str) -> bool:
    """Whether ``sparse_view``/``swap_saved`` give SWAT's gradients here: no saved-tensor hooks, no autocast.

    Under ``torch.autograd.graph.saved_tensors_hooks`` (checkpointing, offloading) the op's saved
    input is packed before ``swap_saved`` runs, and under autocast the op saves a cast copy of its
    input; in both cases the layer uses the custom Function instead. The path relies on how this
    torch build saves an op's inputs, so it is also checked once per device type against the
    Function's math (``_self_check``) and left unused where the two disagree.
    """
    if _TOP_HOOKS is None or _TOP_HOOKS(False) is not None or torch.is_autocast_enabled(device_type):
        return False
    ok = _CHECKED.get(device_type)
    if ok is None:
        ok = _CHECKED[device_type] = _self_check(device_type)
    return ok


def _self_check(device_type: str) -> bool:
    """One tiny conv and linear on ``device_type`` through the native path, against aten's backward on (x_sp, w_sp)."""
    dev = torch.device(device_type)
    with torch.enable_grad():
        x = torch.linspace(-1.0, 1.0, 2 * 3 * 5 * 5, device=dev).reshape(2, 3, 5, 5).requires_grad_(True)
        w = torch.nn.Parameter(torch.linspace(-0.5, 0.7, 4 * 3 * 3 * 3, device=dev).reshape(4, 3, 3, 3))
        x_sp, w_sp = x.detach() * (x.detach().abs() > 0.4), w.detach() * (w.detach().abs() > 0.3)
        xv = x.view_as(x)
        out = F.conv2d(xv, sparse_view(w, w_sp), None, 1, 1)
        swap_saved(xv, x_sp)
        g = torch.linspace(0.2, -0.3, out.numel(), device=dev).reshape(out.shape)
        gi, gw = torch.autograd.grad(out, (x, w), g)
        ri, rw, _ = torch.ops.aten.convolution_backward(g, x_sp, w_sp, None, [1, 1], [1, 1], [1, 1], False,
                                                        [0, 0], 1, [True, True, False])
        a = torch.linspace(-1.0, 1.0, 6 * 8, device=dev).reshape(6, 8).requires_grad_(True)
        b = torch.nn.Parameter(torch.linspace(0.6, -0.4, 5 * 8, device=dev).reshape(5, 8))
        a_sp, b_sp = a.detach() * (a.detach().abs() > 0.5), b.detach() * (b.detach().abs() > 0.2)
        av = a.view_as(a)
        lout = F.linear(av, sparse_view(b, b_sp))
        swap_saved(av, a_sp)
        lg = torch.linspace(-0.1, 0.4, lout.numel(), device=dev).reshape(lout.shape)
        la, lb = torch.autograd.grad(lout, (a, b), lg)
    return bool(torch.allclose(gi, ri, atol=1e-5) and torch.allclose(gw, rw, atol=1e-5)
                and torch.allclose(la, lg @ b_sp, atol=1e-5) and torch.allclose(lb, lg.t() @ a_sp, atol=1e-5))


def sparse_view(t: torch.Tensor, t_sp: torch.Tensor) -> torch.Tensor:
    """A view of t whose values are t_sp: an op reads t_sp, and the gradient of the view lands on t unmasked.

    ``.data`` replaces the view's storage without touching t or autograd's graph (the view's
    backward is a plain reshape of the gradient), so SWAT's straight-through weight costs no pass.
    """
    v = t.view_as(t)
    v.data = t_sp
    return v


def swap_saved(v: torch.Tensor, t_sp: torch.Tensor) -> None:
    """After an op saved the view v of its input, point v at t_sp: the op's backward then reads t_sp.

    The forward already ran on the dense input; torch's C++ backward node holds v itself, so its
    weight gradient uses t_sp with no Python backward.
    """
    v.data = t_sp
