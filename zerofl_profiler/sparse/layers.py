"""Conv2d/Linear subclasses that train the SWAT way; same parameters and state_dict keys as dense."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadInputError
from .functions import SwatConv2dFn, SwatLinearFn
from .kernels import KERNELS, KernelChoice, nm_mask, reduction_dim
from .masks import topk_mask
from .stats import DensityStats


class SwatMixin:
    """Mask bookkeeping shared by the SWAT layers: refresh period, eval-time masks, stats."""

    weight: nn.Parameter
    training: bool

    def _swat_setup(self, weight_sparsity: float, activation_sparsity: float, mask_every: int,
                    mask_structure: str = "unstructured", kernel: KernelChoice | None = None) -> None:
        self.weight_density = 1.0 - float(weight_sparsity)
        self.activation_density = 1.0 - float(activation_sparsity)
        self.mask_every = int(mask_every)
        self.mask_structure = mask_structure
        self.sparse_kernel = kernel or KernelChoice("dense", "sparse kernels off")
        self.density_stats = DensityStats()
        self.reset_mask()

    def _new_mask(self) -> torch.Tensor:
        if self.mask_structure == "2:4":
            return nm_mask(self.weight, 2, 4)
        return topk_mask(self.weight, self.weight_density)

    def reset_mask(self) -> None:
        """Forget the current mask so the next step recomputes it (a new global model arrived)."""
        self._mask: torch.Tensor | None = None
        self._mask_version = -1
        self._step = 0

    def _weight_mask(self) -> torch.Tensor | None:
        """The current top-k weight mask: refreshed every ``mask_every`` training steps.

        Outside training the mask follows the weights whenever they change (e.g. after a
        load_state_dict), so evaluation always uses the top-k of the current model, as ZeroFL does.
        """
        if self.weight_density >= 1.0:
            return None
        if self.training and torch.is_grad_enabled():
            if self._mask is None or self._step % self.mask_every == 0:
                self._mask = self._new_mask()
            self._step += 1
            self._mask_version = -1
        elif self._mask is None or self._mask_version != self.weight._version:
            self._mask = self._new_mask()
            self._mask_version = self.weight._version
        return self._mask

    def extra_repr(self) -> str:  # type: ignore[override]
        base = super().extra_repr()  # type: ignore[misc]
        return (f"{base}, weight_density={self.weight_density:g}, activation_density={self.activation_density:g}, "
                f"mask_every={self.mask_every}")


class SwatConv2d(SwatMixin, nn.Conv2d):
    """A Conv2d trained with SWAT (see ``functions.SwatConv2dFn``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        mask = self._weight_mask()
        if self.training and torch.is_grad_enabled():
            fn = KERNELS.get(("conv2d", self.sparse_kernel.kernel), SwatConv2dFn)
            return fn.apply(x, self.weight, self.bias, mask, self.activation_density, self.density_stats,
                            self.stride, self.padding, self.dilation, self.groups)
        w = self.weight if mask is None else self.weight * mask
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class SwatLinear(SwatMixin, nn.Linear):
    """A Linear trained with SWAT (see ``functions.SwatLinearFn``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        mask = self._weight_mask()
        if self.training and torch.is_grad_enabled():
            fn = KERNELS.get(("linear", self.sparse_kernel.kernel), SwatLinearFn)
            return fn.apply(x, self.weight, self.bias, mask, self.activation_density, self.density_stats)
        w = self.weight if mask is None else self.weight * mask
        return F.linear(x, w, self.bias)


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
            mask_every: int, mask_structure: str = "unstructured", kernel: KernelChoice | None = None) -> nn.Module:
    """Turn a dense Conv2d/Linear into its SWAT twin in place (parameters and hooks kept)."""
    if mask_structure == "2:4" and reduction_dim(module.weight) % 4:  # type: ignore[arg-type]
        raise BadInputError(f"layer {name!r}: a 2:4 mask needs a reduction dimension that is a multiple of 4, "
                            f"got {reduction_dim(module.weight)}; keep it dense with dense_layers")  # type: ignore[arg-type]
    if isinstance(module, SwatMixin):
        module._swat_setup(weight_sparsity, activation_sparsity, mask_every, mask_structure, kernel)
        return module
    entry = SWAT_CLASSES.get(type(module))
    if entry is None:
        raise BadInputError(f"layer {name!r} ({type(module).__name__}) cannot be sparsified; "
                            f"supported: {', '.join(t.__name__ for t in SWAT_CLASSES)}")
    cls, check = entry
    if check is not None:
        check(name, module)
    module.__class__ = cls
    module._swat_setup(weight_sparsity, activation_sparsity, mask_every, mask_structure, kernel)  # type: ignore[attr-defined]
    return module
