"""SWAT sparse training (as ZeroFL uses it): top-k masks, custom autograd layers, density stats."""

from .config import SparseConfig
from .layers import SwatConv2d, SwatLinear, SwatMixin
from .masks import keep_count, topk_mask, topk_sparsify
from .sparsify import (
    collect_densities,
    reset_density_stats,
    reset_masks,
    resolve_dense_layers,
    sparsify,
    swat_layers,
)

__all__ = [
    "SparseConfig", "SwatConv2d", "SwatLinear", "SwatMixin", "keep_count", "topk_mask", "topk_sparsify",
    "collect_densities", "reset_density_stats", "reset_masks", "resolve_dense_layers", "sparsify", "swat_layers",
]
