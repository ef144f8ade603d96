"""Real sparse execution of SWAT's products, where a backend has a kernel that skips the zeros.

SWAT on dense kernels saves FLOPs, not time. This module runs the same products through torch's
sparse kernels instead, with the same gradients as the masked dense reference:

| product of a training step | operands | CSR (CPU) | 2:4 semi-structured (NVIDIA Ampere+) |
|---|---|---|---|
| forward `y = W_sp x` | sparse weights | yes | yes (the mask is 2:4 along the reduction axis) |
| backward input `dx = W_sp^T dy` | sparse weights, transposed | yes | no: W_sp^T is not 2:4 along its reduction axis |
| backward weight `dW = dy x_sp^T` | sparse activations | yes | no: the activation mask is unstructured |

Convolutions are lowered to GEMMs (im2col with `F.unfold`, col2im with `F.fold`); grouped
convolutions stay on the dense path. Which layer uses which path is decided once, when the model
is sparsified (`choose_kernel`), and recorded on the layer (`layer.sparse_kernel`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import BadInputError
from ..vocab import MASK_STRUCTURES, SPARSE_KERNEL_MODES
from .functions import SwatLinearFn


# ------------------------------------------------------------------------------------ masks
def nm_mask(weight: torch.Tensor, n: int = 2, m: int = 4) -> torch.Tensor:
    """Keep the n largest |w| of every m consecutive weights along the reduction axis (dim 1 flattened)."""
    w = weight.detach().reshape(weight.shape[0], -1)
    k = w.shape[1]
    if k % m:
        raise BadInputError(f"a {n}:{m} mask needs a reduction dimension that is a multiple of {m}, got {k}")
    groups = w.abs().reshape(w.shape[0], k // m, m)
    idx = groups.topk(n, dim=2, sorted=False).indices
    mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(2, idx, True)
    return mask.reshape(weight.shape)


def reduction_dim(weight: torch.Tensor) -> int:
    """Length of the reduction axis of a conv/linear weight (in_features, or C_in/groups x kh x kw)."""
    return int(weight[0].numel())


# ------------------------------------------------------------------------------------ CSR products
def _csr(t: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():  # torch flags CSR as beta on every conversion
        warnings.simplefilter("ignore", UserWarning)
        return t.to_sparse_csr()


def _fresh(t: torch.Tensor) -> torch.Tensor:
    """A custom Function's output must not be a view (a later in-place op would bypass its backward)."""
    return t.clone() if t._base is not None else t


def _spmm(a_dense_sparse: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b with `a` converted to CSR (the zeros of `a` are skipped)."""
    return torch.sparse.mm(_csr(a_dense_sparse), b)


class CsrLinearFn(torch.autograd.Function):
    """SWAT linear with all three products on CSR kernels; gradients equal SwatLinearFn's.

    Each operand is converted once, from a contiguous tensor: the backward-input product reuses the
    forward's CSR weights transposed (a CSC view, no conversion), the backward-weight product the
    CSR activations transposed. At the low densities where CSR can beat dense this is the faster
    path (measured on the development host at density 0.01: 5.8 ms against 16-21 ms for converting
    the transposed weight of a 512x4608 layer); at density 0.5 it is about 2x slower, where CSR
    loses to dense by 10x anyway.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                x_sp: torch.Tensor, w_sp: torch.Tensor) -> torch.Tensor:
        x2 = x.reshape(-1, x.shape[-1])
        w_csr = _csr(w_sp.contiguous())
        out = torch.sparse.mm(w_csr, x2.t()).t()
        if bias is not None:
            out = out + bias
        ctx.save_for_backward(x_sp, w_sp)
        ctx.w_csr = w_csr
        ctx.has_bias = bias is not None
        return _fresh(out.reshape(*x.shape[:-1], weight.shape[0]))

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        x_sp, w_sp = ctx.saved_tensors
        need = ctx.needs_input_grad
        g2 = grad_out.reshape(-1, grad_out.shape[-1])
        gi = gw = None
        if need[0]:  # dx = W_sp^T dy: the forward's CSR transposed (CSC), no second conversion
            gi = torch.sparse.mm(ctx.w_csr.t(), g2.t()).t().reshape(*grad_out.shape[:-1], w_sp.shape[1])
        if need[1]:  # dW = dy x_sp: (x_sp^T dy)^T with x_sp converted from its contiguous layout
            x_csr = _csr(x_sp.reshape(-1, x_sp.shape[-1]).contiguous())
            gw = torch.sparse.mm(x_csr.t(), g2).t()
        gb = g2.sum(0) if (ctx.has_bias and need[2]) else None
        return gi, gw, gb, None, None


class CsrConv2dFn(torch.autograd.Function):
    """SWAT conv2d (groups = 1) lowered to CSR GEMMs: im2col, sparse products, col2im.

    The backward-input product reuses the forward's CSR weights as a transposed CSC view (measured
    here on a ResNet-18 layer4 conv at density 0.01: 2.5 ms against 18 ms converting W^T again).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                x_sp: torch.Tensor, w_sp: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int],
                dilation: tuple[int, int], groups: int) -> torch.Tensor:
        if groups != 1:
            raise BadInputError("CSR convolution supports groups = 1 only")
        n, _, h, w = x.shape
        o, _, kh, kw = weight.shape
        cols = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)  # (N, K, L)
        L = cols.shape[2]
        oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        w_csr = _csr(w_sp.reshape(o, -1).contiguous())
        out = torch.sparse.mm(w_csr, cols.transpose(0, 1).reshape(cols.shape[1], n * L))  # (O, N*L)
        out = out.reshape(o, n, L).transpose(0, 1).reshape(n, o, oh, ow)
        if bias is not None:
            out = out + bias.view(1, -1, 1, 1)
        ctx.save_for_backward(x_sp, w_sp)
        ctx.w_csr = w_csr
        ctx.conv = (stride, padding, dilation, (h, w))
        ctx.has_bias = bias is not None
        return _fresh(out.contiguous())

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        x_sp, w_sp = ctx.saved_tensors
        stride, padding, dilation, hw = ctx.conv
        need = ctx.needs_input_grad
        n, o = grad_out.shape[:2]
        kh, kw = w_sp.shape[2:]
        g = grad_out.reshape(n, o, -1).transpose(0, 1).reshape(o, -1)  # (O, N*L)
        gi = gw = gb = None
        if need[0]:  # the forward's CSR weights transposed (CSC): no second conversion
            dcols = torch.sparse.mm(ctx.w_csr.t(), g)  # (K, N*L)
            dcols = dcols.reshape(dcols.shape[0], n, -1).transpose(0, 1)  # (N, K, L)
            gi = F.fold(dcols, hw, (kh, kw), dilation=dilation, padding=padding, stride=stride)
        if need[1]:
            cols = F.unfold(x_sp, (kh, kw), dilation=dilation, padding=padding, stride=stride)  # (N, K, L)
            cols = cols.transpose(0, 1).reshape(cols.shape[1], -1)  # (K, N*L), as sparse as x_sp
            gw = _spmm(cols, g.t()).t().reshape(w_sp.shape)  # CSR here: a CSC view of (N*L, K) was slower
        if ctx.has_bias and need[2]:
            gb = grad_out.sum((0, 2, 3))
        return gi, gw, gb, None, None, None, None, None, None


# ------------------------------------------------------------------------------------ 2:4 (CUDA)
def semi_structured_supported() -> str | None:
    """None when 2:4 semi-structured kernels can run here, else the reason they cannot."""
    if not torch.cuda.is_available():
        return "needs a CUDA GPU"
    major, _minor = torch.cuda.get_device_capability()
    if major < 8:
        return f"needs an NVIDIA GPU of compute capability 8.0 (Ampere) or newer, this one is {major}.{_minor}"
    sparse = getattr(torch, "sparse", None)
    if sparse is None or not hasattr(sparse, "to_sparse_semi_structured"):
        return f"this torch build ({torch.__version__}) has no torch.sparse.to_sparse_semi_structured"
    return None


class SemiStructuredLinearFn(torch.autograd.Function):
    """SWAT linear whose forward product runs on 2:4 sparse tensor cores; backward as SwatLinearFn."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                x_sp: torch.Tensor, w_sp: torch.Tensor) -> torch.Tensor:
        w_ss = torch.sparse.to_sparse_semi_structured(w_sp.to(x.dtype))
        out = F.linear(x, w_ss, bias)
        ctx.save_for_backward(x_sp, w_sp)
        ctx.has_bias = bias is not None
        return out

    # the same backward as the masked dense product: W_sp^T is not 2:4 along its reduction axis
    backward = staticmethod(SwatLinearFn.backward)


# ------------------------------------------------------------------------------------ choice
@dataclass(frozen=True)
class KernelChoice:
    """Which path a layer runs on, and why (printed once per run)."""

    kernel: str  # "dense" | "csr" | "semi-structured"
    reason: str


#: (layer kind, kernel) -> autograd function; "dense" is the masked-dense SWAT simulation.
KERNELS: dict[tuple[str, str], Callable[..., Any]] = {
    ("linear", "csr"): CsrLinearFn,
    ("conv2d", "csr"): CsrConv2dFn,
    ("linear", "semi-structured"): SemiStructuredLinearFn,
}


def check_modes(mode: str, structure: str) -> None:
    """Validate --sparse-kernels and --mask-structure, and the hardware a mode needs, before any work."""
    if mode not in SPARSE_KERNEL_MODES:
        raise BadInputError(f"--sparse-kernels must be one of {', '.join(SPARSE_KERNEL_MODES)}, got {mode!r}")
    if structure not in MASK_STRUCTURES:
        raise BadInputError(f"--mask-structure must be one of {', '.join(MASK_STRUCTURES)}, got {structure!r}")
    if mode == "semi-structured":
        why = semi_structured_supported()
        if why is not None:
            raise BadInputError(f"--sparse-kernels semi-structured {why}")
        if structure != "2:4":
            raise BadInputError("--sparse-kernels semi-structured needs --mask-structure 2:4")


def choose_kernel(kind: str, weight: torch.Tensor, weight_density: float, mode: str, structure: str,
                  groups: int = 1, break_even_density: float | None = None) -> KernelChoice:
    """The path of one sparsified layer under `mode` (auto: CSR only below the measured break-even density)."""
    if mode == "off" or weight_density >= 1.0:
        return KernelChoice("dense", "sparse kernels off" if mode == "off" else "layer is dense")
    if kind == "conv2d" and groups != 1:
        return KernelChoice("dense", f"grouped convolution (groups={groups}) has no CSR lowering here")
    if mode == "semi-structured":
        if kind != "linear":
            return KernelChoice("dense", "2:4 kernels run linear layers only (convolutions stay dense)")
        if weight.dtype not in (torch.float16, torch.bfloat16):
            return KernelChoice("dense", f"2:4 kernels need float16/bfloat16 weights, this layer is {weight.dtype}")
        rows, cols = weight.shape
        if rows % 32 or cols % 64:
            return KernelChoice("dense", f"2:4 kernels need shapes that are multiples of 32x64, got {rows}x{cols}")
        return KernelChoice("semi-structured", "forward product on 2:4 sparse tensor cores")
    if weight.device.type != "cpu":
        return KernelChoice("dense", "CSR kernels are used on the CPU only")
    if mode == "csr":
        return KernelChoice("csr", "CSR kernels for all three products (asked for)")
    # auto
    if break_even_density is None:
        return KernelChoice("dense", "no measured density at which CSR beats dense on this host")
    if weight_density <= break_even_density + 1e-9:  # 1 - 0.99 is 0.010000000000000009
        return KernelChoice("csr", f"density {weight_density:g} <= measured break-even {break_even_density:g}")
    return KernelChoice("dense", f"density {weight_density:g} > measured break-even {break_even_density:g}: "
                                 "the dense kernel is faster")
