"""SWAT sparse training (as ZeroFL uses it): top-k masks, SWAT Conv2d/Linear layers, density stats."""

from .config import SparseConfig
from .stats import MaskWork
from .layers import SCHEDULES, SwatConv2d, SwatLinear, SwatMixin
from .masks import Selection, keep_count, topk_mask, topk_sparsify
from .sparsify import (
    collect_densities,
    collect_mask_work,
    reset_density_stats,
    reset_masks,
    resolve_dense_layers,
    sparsify,
    swat_layers,
)

__all__ = [
    "SCHEDULES", "MaskWork", "SparseConfig", "SwatConv2d", "SwatLinear", "SwatMixin", "Selection", "keep_count",
    "topk_mask", "topk_sparsify", "collect_densities", "collect_mask_work", "reset_density_stats",
    "reset_masks", "resolve_dense_layers", "sparsify", "swat_layers",
]
