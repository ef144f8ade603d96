"""Conv2d/Linear subclasses that train the SWAT way; same parameters and state_dict keys as dense.

Each training step: the schedule (``SCHEDULES``) gives the sparse input and weight and their kept
fractions; the layer then runs torch's own op on views of them (``functions.sparse_view``), or a
sparse kernel's Function (``kernels.KERNELS``), or the custom Function under saved-tensor hooks or autocast.
"""

from __future__ import annotations

from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadInputError
from .functions import SwatConv2dFn, SwatLinearFn, native_path_ok, sparse_view, swap_saved
from .kernels import KERNELS, KernelChoice, nm_mask, reduction_dim
from .masks import Selection, count_nonzero, keep_topk, threshold_cut, threshold_keep, topk_mask
from .stats import DensityStats


class MaskState:
    """One layer's mask state between steps, reset per client-round.

    A plain object rather than attributes of the module: every attribute write on an
    ``nn.Module`` goes through its ``__setattr__`` (measured about 2 us), several times a step.
    """

    __slots__ = ("step", "mask", "mask_sel", "w_sp", "w_sel", "w_version", "w_cut", "x_cut", "eval_w",
                 "eval_version")

    def __init__(self) -> None:
        self.step = 0
        self.mask: torch.Tensor | None = None  # frozen positions (0/1, the weights' dtype) ...
        self.mask_sel: Selection | None = None  # ... and what they keep
        self.w_sp: torch.Tensor | None = None  # the last exact top-k of the weights ...
        self.w_sel: Selection | None = None
        self.w_version = -1  # ... and the weights' version it was computed from
        self.w_cut: float | None = None  # frozen thresholds as hardshrink cuts (swat-threshold; None = keep all)
        self.x_cut: float | None = None
        self.eval_w: torch.Tensor | None = None  # evaluation weights and their version
        self.eval_version = -1


#: One step's (sparse input, sparse weight, weight density, input density); None/1.0 = not masked
Pair = tuple["torch.Tensor | None", "torch.Tensor | None", float, float]
#: The exact selections of one step: (sparse input, sparse weight, weight selection, input selection)
Picked = tuple["torch.Tensor | None", "torch.Tensor | None", "Selection | None", "Selection | None"]

#: Both tensors at least this large (entries), and torch running 2+ threads: select them at once
#: (``_exact_pair``). Below it the hand-off to the worker thread costs more than the overlap saves.
OVERLAP_FROM = 1 << 16

_WORKER: list[ThreadPoolExecutor] = []


def _worker() -> ThreadPoolExecutor:
    """The one mask worker thread, started on first use (nothing runs on import)."""
    if not _WORKER:
        _WORKER.append(ThreadPoolExecutor(1, thread_name_prefix="swat-mask"))
    return _WORKER[0]


def _store_weight(layer: "SwatMixin", st: MaskState, w: torch.Tensor, picked: tuple[torch.Tensor, Selection]
                  ) -> tuple[torch.Tensor, Selection]:
    st.w_sp, st.w_sel = picked
    st.w_version = w._version
    layer.density_stats.weight_selections[w.numel()] += 1
    return picked


def _sparse_weight(layer: "SwatMixin", st: MaskState, w: torch.Tensor) -> tuple[torch.Tensor, Selection]:
    """The exact top-k of the weights, reused while the weights are unchanged (same tensor version)."""
    if st.w_sp is None or st.w_version != w._version or st.w_sel is None:
        return _store_weight(layer, st, w, _select_weight(layer, w))
    return st.w_sp, st.w_sel


def _select_weight(layer: "SwatMixin", w: torch.Tensor) -> tuple[torch.Tensor, Selection]:
    """The layer's weight mask: unstructured top-k, or 2:4 (top 2 of every 4 along the reduction axis)."""
    if layer.mask_structure == "2:4":
        kept = nm_mask(w, 2, 4)
        w_sp = w * kept
        n = int(kept.sum())
        return w_sp, Selection(0.0, n, count_nonzero(w_sp), w.numel())
    return keep_topk(w, layer.weight_density)


def _exact_pair(layer: "SwatMixin", st: MaskState, w: torch.Tensor, x: torch.Tensor) -> Picked:
    """The exact top-k of the masked ones of weights (cached per weight version) and input.

    With torch on 2+ threads and both tensors large, the weights' selection runs in the worker
    thread while the input's runs here: numpy's passes (introselect, the bracket's compares and
    gathers) are single-threaded and release the GIL, so the two overlap on two cores. Each is the same computation either way, so the result
    is identical.
    """
    w_sp = w_sel = x_sp = x_sel = None
    mask_x = layer.activation_density < 1.0
    if layer.weight_density < 1.0:
        stale = st.w_sp is None or st.w_version != w._version or st.w_sel is None
        if stale and mask_x and min(w.numel(), x.numel()) >= OVERLAP_FROM and torch.get_num_threads() > 1:
            pending = _worker().submit(_select_weight, layer, w)
            try:
                x_sp, x_sel = keep_topk(x, layer.activation_density)
            finally:
                picked = pending.result()
            w_sp, w_sel = _store_weight(layer, st, w, picked)
        else:
            w_sp, w_sel = _sparse_weight(layer, st, w)
    if mask_x:
        if x_sel is None:
            x_sp, x_sel = keep_topk(x, layer.activation_density)
        layer.density_stats.activation_selections[x.numel()] += 1
    return x_sp, w_sp, w_sel, x_sel


def _densities(picked: Picked) -> Pair:
    x_sp, w_sp, w_sel, x_sel = picked
    return x_sp, w_sp, 1.0 if w_sel is None else w_sel.density, 1.0 if x_sel is None else x_sel.density


def _fixed_positions(layer: "SwatMixin", st: MaskState, w: torch.Tensor, x: torch.Tensor, refresh: bool) -> Pair:
    """Weight positions frozen between refreshes; the input's exact top-k every step."""
    if layer.mask_every == 1 or layer.weight_density >= 1.0:
        return _densities(_exact_pair(layer, st, w, x))
    if refresh or st.mask is None:
        picked = _exact_pair(layer, st, w, x)
        w_sp, w_sel = picked[1], picked[2]
        # kept positions as a 0/1 float tensor: the frozen steps then cost one plain multiply
        if layer.mask_structure == "2:4":
            kept = nm_mask(w, 2, 4)
        else:
            kept = w_sp != 0 if w_sel.threshold > 0.0 else topk_mask(w, layer.weight_density)  # type: ignore[union-attr]
        st.mask, st.mask_sel = kept.to(w.dtype), w_sel
        return _densities(picked)
    x_sp, x_density = None, 1.0
    if layer.activation_density < 1.0:
        x_sp, x_sel = keep_topk(x, layer.activation_density)
        layer.density_stats.activation_selections[x.numel()] += 1
        x_density = x_sel.density
    return x_sp, w * st.mask, st.mask_sel.density, x_density  # type: ignore[union-attr]


def _swat_threshold(layer: "SwatMixin", st: MaskState, w: torch.Tensor, x: torch.Tensor, refresh: bool) -> Pair:
    """SWAT's own schedule: exact top-k on refresh steps, whose k-th values are then frozen as thresholds.

    Between refreshes each masked tensor costs one ``hardshrink`` at the frozen cut and one count.
    """
    if refresh:
        picked = _exact_pair(layer, st, w, x)
        w_sel, x_sel = picked[2], picked[3]
        st.w_cut = None if w_sel is None or w_sel.threshold <= 0.0 else threshold_cut(w_sel.threshold, w.dtype)
        st.x_cut = None if x_sel is None or x_sel.threshold <= 0.0 else threshold_cut(x_sel.threshold, x.dtype)
        return _densities(picked)
    w_sp = x_sp = None
    w_density = x_density = 1.0
    if layer.weight_density < 1.0:
        if st.w_cut is None:  # the k-th value was 0: every non-zero passes
            w_density = count_nonzero(w) / w.numel()
        else:
            w_sp, kept = threshold_keep(w, st.w_cut)
            w_density = kept / w.numel()
    if layer.activation_density < 1.0:
        if st.x_cut is None:
            x_density = count_nonzero(x) / x.numel()
        else:
            x_sp, kept = threshold_keep(x, st.x_cut)
            x_density = kept / x.numel()
    return x_sp, w_sp, w_density, x_density


@dataclass(frozen=True)
class MaskSchedule:
    """What a training step does between refreshes, and whether the input's selection is periodic too."""

    step: Callable[["SwatMixin", MaskState, torch.Tensor, torch.Tensor, bool], Pair]
    freezes_activations: bool


#: --mask-schedule name -> behaviour (the names are vocab.MASK_SCHEDULES; a test checks both agree)
SCHEDULES = {"fixed-positions": MaskSchedule(_fixed_positions, False),
             "swat-threshold": MaskSchedule(_swat_threshold, True)}


class SwatMixin:
    """Mask bookkeeping shared by the SWAT layers: refresh period and schedule, eval-time masks, stats."""

    weight: nn.Parameter
    training: bool
    _kind: str  # the KERNELS key: "conv2d" | "linear"

    def _swat_setup(self, weight_sparsity: float, activation_sparsity: float, mask_every: int,
                    mask_schedule: str = "fixed-positions", mask_structure: str = "unstructured",
                    kernel: KernelChoice | None = None) -> None:
        if mask_schedule not in SCHEDULES:
            raise BadInputError(f"mask schedule must be one of {', '.join(SCHEDULES)}, got {mask_schedule!r}")
        if mask_structure == "2:4" and mask_schedule == "swat-threshold":
            raise BadInputError("a 2:4 mask has no single threshold to freeze: use --mask-schedule fixed-positions")
        self.mask_structure = mask_structure
        self.sparse_kernel = kernel or KernelChoice("dense", "sparse kernels off")
        self.weight_density = 1.0 - float(weight_sparsity)
        self.activation_density = 1.0 - float(activation_sparsity)
        self.mask_every = int(mask_every)
        self.mask_schedule = mask_schedule
        self._schedule = SCHEDULES[mask_schedule].step
        # a sparse kernel's Function, else None: torch's own op and backward node (``functions.sparse_view``)
        self._fn = KERNELS.get((self._kind, self.sparse_kernel.kernel))
        self.density_stats = DensityStats()
        self.reset_mask()

    def reset_mask(self) -> None:
        """Forget the current mask and thresholds so the next step recomputes them (a new global model arrived)."""
        self._state = MaskState()

    def _training_pair(self, weight: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(sparse input, sparse weight) of one training step, None where not masked; records the step's densities."""
        st = self._state
        refresh = st.step % self.mask_every == 0
        st.step += 1
        x_sp, w_sp, w_density, x_density = self._schedule(self, st, weight.detach(), x.detach(), refresh)
        self.density_stats.add(w_density, x_density)
        return x_sp, w_sp

    def _eval_weight(self) -> torch.Tensor:
        """Weights for evaluation: the exact top-k of the current weights, recomputed whenever they change.

        So evaluation always uses the top-k of the current model (e.g. after a load_state_dict), as
        ZeroFL does, whatever the training schedule froze.
        """
        if self.weight_density >= 1.0:
            return self.weight
        if torch.is_grad_enabled():  # differentiable, so never cached
            return _select_weight(self, self.weight)[0]
        st = self._state
        if st.eval_w is None or st.eval_version != self.weight._version:
            st.eval_w = _select_weight(self, self.weight.detach())[0]
            st.eval_version = self.weight._version
        return st.eval_w

    def extra_repr(self) -> str:  # type: ignore[override]
        base = super().extra_repr()  # type: ignore[misc]
        return (f"{base}, weight_density={self.weight_density:g}, activation_density={self.activation_density:g}, "
                f"mask_every={self.mask_every}, mask_schedule={self.mask_schedule}")


class SwatConv2d(SwatMixin, nn.Conv2d):
    """A Conv2d trained with SWAT: forward with w_sp; backward input gradient with w_sp, weight gradient with x_sp."""

    _kind = "conv2d"

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if not (self.training and torch.is_grad_enabled()):
            return F.conv2d(x, self._eval_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups)
        w = self.weight
        x_sp, w_sp = self._training_pair(w, x)
        fn = self._fn
        if fn is None:
            if native_path_ok(x.device.type):
                xv = x if x_sp is None else x.view_as(x)
                out = F.conv2d(xv, w if w_sp is None else sparse_view(w, w_sp), self.bias, self.stride,
                               self.padding, self.dilation, self.groups)
                if x_sp is not None:
                    swap_saved(xv, x_sp)
                return out
            fn = SwatConv2dFn
        return fn.apply(x, w, self.bias, x if x_sp is None else x_sp, w.detach() if w_sp is None else w_sp,
                        self.stride, self.padding, self.dilation, self.groups)


class SwatLinear(SwatMixin, nn.Linear):
    """A Linear trained with SWAT: forward with w_sp; backward input gradient with w_sp, weight gradient with x_sp."""

    _kind = "linear"

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if not (self.training and torch.is_grad_enabled()):
            return F.linear(x, self._eval_weight(), self.bias)
        w = self.weight
        x_sp, w_sp = self._training_pair(w, x)
        fn = self._fn
        if fn is None:
            if native_path_ok(x.device.type):
                # 2-D, so that linear is one addmm/mm whose saved input is this view itself
                xv = x if x_sp is None else x.reshape(-1, x.shape[-1]) if x.dim() != 2 else x.view_as(x)
                out = F.linear(xv, w if w_sp is None else sparse_view(w, w_sp), self.bias)
                if x_sp is not None:
                    swap_saved(xv, x_sp.reshape(xv.shape))
                    if x.dim() != 2:
                        out = out.reshape(*x.shape[:-1], out.shape[-1])
                return out
            fn = SwatLinearFn
        return fn.apply(x, w, self.bias, x if x_sp is None else x_sp, w.detach() if w_sp is None else w_sp)


def _conv_ok(name: str, m: nn.Conv2d) -> None:
    if m.padding_mode != "zeros" or isinstance(m.padding, str):
        raise BadInputError(
            f"layer {name!r}: SWAT supports zero padding given as integers only "
            f"(padding={m.padding!r}, padding_mode={m.padding_mode!r}); keep it dense with dense_layers")


# dense class -> (SWAT class, check). Exact types only: a subclass may override forward.
SWAT_CLASSES: dict[type, tuple[type, Any]] = {
    nn.Conv2d: (SwatConv2d, _conv_ok),
    nn.Linear: (SwatLinear, None),
}


def to_swat(name: str, module: nn.Module, weight_sparsity: float, activation_sparsity: float,
            mask_every: int, mask_schedule: str = "fixed-positions", mask_structure: str = "unstructured",
            kernel: KernelChoice | None = None) -> nn.Module:
    """Turn a dense Conv2d/Linear into its SWAT twin in place (parameters and hooks kept)."""
    if mask_structure == "2:4" and reduction_dim(module.weight) % 4:  # type: ignore[arg-type]
        raise BadInputError(f"layer {name!r}: a 2:4 mask needs a reduction dimension that is a multiple of 4, "
                            f"got {reduction_dim(module.weight)}; keep it dense with dense_layers")  # type: ignore[arg-type]
    if isinstance(module, SwatMixin):
        module._swat_setup(weight_sparsity, activation_sparsity, mask_every, mask_schedule, mask_structure, kernel)
        return module
    entry = SWAT_CLASSES.get(type(module))
    if entry is None:
        raise BadInputError(f"layer {name!r} ({type(module).__name__}) cannot be sparsified; "
                            f"supported: {', '.join(t.__name__ for t in SWAT_CLASSES)}")
    cls, check = entry
    if check is not None:
        check(name, module)
    module.__class__ = cls
    module._swat_setup(weight_sparsity, activation_sparsity, mask_every, mask_schedule,  # type: ignore[attr-defined]
                       mask_structure, kernel)
    return module
