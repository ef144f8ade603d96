"""Sparse-aware FLOP and byte counter for one training step (forward, backward_input, backward_weight).

Public API: :func:`count_training_step` -> :class:`FlopReport`; :func:`trace_model` +
:func:`count_from_trace` to cost one shape pass under many sparsities; the formula registry
:data:`FORMULAS` with its :func:`register` decorator; :func:`sparsifiable_layers` and
:func:`default_dense_layers` (shared with ``sparse.sparsify``).
"""

from . import elementwise as _elementwise  # noqa: F401  (registers formulas)
from . import gemm as _gemm  # noqa: F401  (registers formulas)
from .capture import trace_model
from .count import count_from_trace, count_training_step
from .gemm import conv_backward_input_count, conv_backward_weight_count, conv_flop_count, mm_flop_count
from .layers import default_dense_layers, sparsifiable_layers
from .records import OP_CLASSES, PHASES, Cost, ModelTrace, OpRecord, TensorInfo
from .registry import FORMULAS, free, lookup, register
from .report import FlopReport, LayerCount
from .training import OPTIMIZERS, OptimizerSpec, cross_entropy_cost, register_optimizer

__all__ = [
    "count_training_step", "count_from_trace", "trace_model", "FlopReport", "LayerCount", "default_dense_layers",
    "sparsifiable_layers", "FORMULAS", "register", "free", "lookup", "Cost", "OpRecord", "TensorInfo",
    "ModelTrace", "PHASES", "OP_CLASSES", "OPTIMIZERS", "OptimizerSpec", "register_optimizer",
    "cross_entropy_cost", "conv_flop_count", "conv_backward_input_count", "conv_backward_weight_count",
    "mm_flop_count",
]
