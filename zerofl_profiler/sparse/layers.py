"""Conv2d/Linear subclasses that train the SWAT way; same parameters and state_dict keys as dense."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadInputError
from .functions import SwatConv2dFn, SwatLinearFn
from .kernels import KERNELS, KernelChoice, nm_mask, reduction_dim
from .masks import Selection, count_nonzero, keep_topk, threshold_sparsify, topk_mask
from .stats import DensityStats


class MaskState:
    """One layer's mask state between steps, reset per client-round.

    A plain object rather than attributes of the module: every attribute write on an
    ``nn.Module`` goes through its ``__setattr__`` (measured about 2 us), several times a step.
    """

    __slots__ = ("step", "mask", "mask_sel", "w_sp", "w_sel", "w_version", "w_thr", "x_thr", "eval_w",
                 "eval_version")

    def __init__(self) -> None:
        self.step = 0
        self.mask: torch.Tensor | None = None  # frozen positions (0/1, the weights' dtype) ...
        self.mask_sel: Selection | None = None  # ... and what they keep
        self.w_sp: torch.Tensor | None = None  # the last exact top-k of the weights ...
        self.w_sel: Selection | None = None
        self.w_version = -1  # ... and the weights' version it was computed from
        self.w_thr: float | None = None  # frozen thresholds (swat-threshold)
        self.x_thr: float | None = None
        self.eval_w: torch.Tensor | None = None  # evaluation weights and their version
        self.eval_version = -1


def _sparse_weight(layer: "SwatMixin", st: MaskState, w: torch.Tensor) -> tuple[torch.Tensor, Selection]:
    """The exact top-k of the weights, reused while the weights are unchanged (same tensor version)."""
    version = w._version
    if st.w_sp is None or st.w_version != version or st.w_sel is None:
        st.w_sp, st.w_sel = _select_weight(layer, w)
        st.w_version = version
        layer.density_stats.weight_selections[w.numel()] += 1
    return st.w_sp, st.w_sel  # type: ignore[return-value]


def _select_weight(layer: "SwatMixin", w: torch.Tensor) -> tuple[torch.Tensor, Selection]:
    """The layer's weight mask: unstructured top-k, or 2:4 (top 2 of every 4 along the reduction axis)."""
    if layer.mask_structure == "2:4":
        kept = nm_mask(w, 2, 4)
        w_sp = w * kept
        n = int(kept.sum())
        return w_sp, Selection(0.0, n, count_nonzero(w_sp), w.numel())
    return keep_topk(w, layer.weight_density)


def _fixed_positions(layer: "SwatMixin", st: MaskState, w: torch.Tensor, x: torch.Tensor, refresh: bool
                     ) -> tuple[torch.Tensor, torch.Tensor, Selection | None, Selection | None]:
    """Weight positions frozen between refreshes; the input's exact top-k every step."""
    w_sel = None
    if layer.weight_density < 1.0:
        if layer.mask_every == 1:
            w, w_sel = _sparse_weight(layer, st, w)
        elif refresh or st.mask is None:
            w_sp, w_sel = _sparse_weight(layer, st, w)
            # kept positions as a 0/1 float tensor: the frozen steps then cost one plain multiply
            if layer.mask_structure == "2:4":
                kept = nm_mask(w, 2, 4)
            else:
                kept = w_sp != 0 if w_sel.threshold > 0.0 else topk_mask(w, layer.weight_density)
            st.mask, st.mask_sel, w = kept.to(w.dtype), w_sel, w_sp
        else:
            w, w_sel = w * st.mask, st.mask_sel
    x_sel = None
    if layer.activation_density < 1.0:
        x, x_sel = keep_topk(x, layer.activation_density)
        layer.density_stats.activation_selections[x.numel()] += 1
    return x, w, w_sel, x_sel


def _swat_threshold(layer: "SwatMixin", st: MaskState, w: torch.Tensor, x: torch.Tensor, refresh: bool
                    ) -> tuple[torch.Tensor, torch.Tensor, Selection | None, Selection | None]:
    """SWAT's own schedule: exact top-k on refresh steps, whose k-th values are then frozen as thresholds."""
    w_sel = x_sel = None
    if layer.weight_density < 1.0:
        if refresh or st.w_thr is None:
            w, w_sel = _sparse_weight(layer, st, w)
            st.w_thr = w_sel.threshold
        else:
            w, w_sel = threshold_sparsify(w, st.w_thr)
    if layer.activation_density < 1.0:
        if refresh or st.x_thr is None:
            x, x_sel = keep_topk(x, layer.activation_density)
            st.x_thr = x_sel.threshold
            layer.density_stats.activation_selections[x.numel()] += 1
        else:
            x, x_sel = threshold_sparsify(x, st.x_thr)
    return x, w, w_sel, x_sel


@dataclass(frozen=True)
class MaskSchedule:
    """What a training step does between refreshes, and whether the input's selection is periodic too."""

    step: Callable[["SwatMixin", MaskState, torch.Tensor, torch.Tensor, bool],
                   tuple[torch.Tensor, torch.Tensor, Selection | None, Selection | None]]
    freezes_activations: bool


#: --mask-schedule name -> behaviour (the names are vocab.MASK_SCHEDULES; a test checks both agree)
SCHEDULES = {"fixed-positions": MaskSchedule(_fixed_positions, False),
             "swat-threshold": MaskSchedule(_swat_threshold, True)}


class SwatMixin:
    """Mask bookkeeping shared by the SWAT layers: refresh period and schedule, eval-time masks, stats."""

    weight: nn.Parameter
    training: bool

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
        self.density_stats = DensityStats()
        self.reset_mask()

    def reset_mask(self) -> None:
        """Forget the current mask and thresholds so the next step recomputes them (a new global model arrived)."""
        self._state = MaskState()

    def _training_pair(self, weight: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sparse input, sparse weight) of one training step, per the schedule; records the step's densities."""
        st = self._state
        refresh = st.step % self.mask_every == 0
        st.step += 1
        x_sp, w_sp, w_sel, x_sel = self._schedule(self, st, weight.detach(), x.detach(), refresh)
        self.density_stats.add(w_sel, x_sel)
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
    """A Conv2d trained with SWAT (see ``functions.SwatConv2dFn``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if self.training and torch.is_grad_enabled():
            w = self.weight
            x_sp, w_sp = self._training_pair(w, x)
            fn = KERNELS.get(("conv2d", self.sparse_kernel.kernel), SwatConv2dFn)
            return fn.apply(x, w, self.bias, x_sp, w_sp, self.stride, self.padding, self.dilation, self.groups)
        return F.conv2d(x, self._eval_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups)


class SwatLinear(SwatMixin, nn.Linear):
    """A Linear trained with SWAT (see ``functions.SwatLinearFn``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if self.training and torch.is_grad_enabled():
            w = self.weight
            x_sp, w_sp = self._training_pair(w, x)
            fn = KERNELS.get(("linear", self.sparse_kernel.kernel), SwatLinearFn)
            return fn.apply(x, w, self.bias, x_sp, w_sp)
        return F.linear(x, self._eval_weight(), self.bias)


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
