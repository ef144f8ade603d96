"""How a model is sparsified: one frozen record shared by the engine and the FLOP counter."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadInputError, check_fraction
from ..vocab import MASK_SCHEDULES, MASK_STRUCTURES, SPARSE_KERNEL_MODES


@dataclass(frozen=True)
class SparseConfig:
    """SWAT settings: weight/activation sparsity, layers kept dense, mask refresh period and schedule.

    ``dense_layers=None`` means the default (the first conv, via ``flops.default_dense_layers``);
    an explicit tuple (possibly empty) replaces it. BatchNorm is never sparsified.
    ``activation_sparsity=None`` follows the weight sparsity, as in SWAT. ``mask_schedule`` says
    what stays frozen for ``mask_every - 1`` steps after each refresh (see ``layers.SCHEDULES``):
    ``fixed-positions`` freezes the weight positions and recomputes the input's exact top-k every
    step; ``swat-threshold`` freezes the k-th values of both as thresholds, as SWAT's reference code does.
    """

    weight_sparsity: float = 0.0
    activation_sparsity: float | None = None
    dense_layers: tuple[str, ...] | None = None
    mask_every: int = 1
    kernels: str = "off"
    mask_structure: str = "unstructured"
    mask_schedule: str = "fixed-positions"

    def __post_init__(self) -> None:
        check_fraction("weight sparsity", self.weight_sparsity)
        if self.activation_sparsity is not None:
            check_fraction("activation sparsity", self.activation_sparsity)
        if not isinstance(self.mask_every, int) or isinstance(self.mask_every, bool) or self.mask_every < 1:
            raise BadInputError(f"mask_every must be a positive integer, got {self.mask_every!r}")
        if self.kernels not in SPARSE_KERNEL_MODES:
            raise BadInputError(f"sparse kernels must be one of {', '.join(SPARSE_KERNEL_MODES)}, got {self.kernels!r}")
        if self.mask_structure not in MASK_STRUCTURES:
            raise BadInputError(f"mask structure must be one of {', '.join(MASK_STRUCTURES)}, "
                                f"got {self.mask_structure!r}")
        if self.mask_structure == "2:4" and self.weight_sparsity != 0.5:
            raise BadInputError(f"a 2:4 mask keeps exactly half of the weights: weight sparsity must be 0.5, "
                                f"got {self.weight_sparsity:g}")
        if self.mask_schedule not in MASK_SCHEDULES:
            raise BadInputError(f"mask schedule must be one of {', '.join(MASK_SCHEDULES)}, got {self.mask_schedule!r}")
        if self.dense_layers is not None and not isinstance(self.dense_layers, tuple):
            object.__setattr__(self, "dense_layers", tuple(self.dense_layers))

    @property
    def selection_periods(self) -> tuple[int, int]:
        """(weight, input) training steps per top-k selection: what the FLOP counter charges top-k work for."""
        from .layers import SCHEDULES

        return self.mask_every, self.mask_every if SCHEDULES[self.mask_schedule].freezes_activations else 1

    @property
    def act_sparsity(self) -> float:
        """The activation sparsity actually used (weight sparsity unless set)."""
        return self.weight_sparsity if self.activation_sparsity is None else float(self.activation_sparsity)
