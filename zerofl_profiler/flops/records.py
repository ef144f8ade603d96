"""Plain records passed between capture, formulas and the report (no torch here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any

from ..vocab import GEMM_CLASSES, OP_CLASSES, TOPK_CLASSES
from ..vocab import STEP_PHASES as PHASES  # the counter's row phases (vocab.STEP_PHASES)


@dataclass(frozen=True)
class TensorInfo:
    """Shape and autograd facts of one tensor seen during the shape pass."""

    shape: tuple[int, ...]
    requires_grad: bool
    is_param: bool
    floating: bool

    @property
    def numel(self) -> int:
        """Number of elements."""
        return prod(self.shape)


@dataclass(frozen=True)
class OpRecord:
    """One aten op of the forward pass, with the module that ran it and its tensors' shapes.

    ``args`` is the op's positional arguments with every tensor replaced by its TensorInfo, so
    formulas can read flags (stride, kernel size, training) as well as shapes.
    """

    op: str
    module: str
    module_type: str
    leaf: bool
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    outputs: tuple[TensorInfo, ...]

    @property
    def tensors(self) -> tuple[TensorInfo, ...]:
        """Tensor arguments in order (nested lists flattened)."""
        out: list[TensorInfo] = []

        def walk(a: Any) -> None:
            if isinstance(a, TensorInfo):
                out.append(a)
            elif isinstance(a, (list, tuple)):
                for b in a:
                    walk(b)

        walk(self.args)
        return tuple(out)

    @property
    def out(self) -> TensorInfo:
        """The first output (the op's result)."""
        return self.outputs[0]


@dataclass(frozen=True)
class Cost:
    """FLOPs of one op for one row, plus the element counts its byte traffic is derived from.

    ``weights``/``inputs``/``outputs`` are element counts (parameters, activations read,
    activations written); ``needs_input_grad``/``needs_weight_grad`` say whether the backward
    phases run at all. ``label`` overrides the row type (e.g. ``bias_add``).
    """

    op_class: str  # one of vocab.OP_CLASSES
    forward: int = 0
    backward_input: int = 0
    backward_weight: int = 0
    update: int = 0
    weights: int = 0
    inputs: int = 0
    outputs: int = 0
    needs_input_grad: bool = False
    needs_weight_grad: bool = False
    label: str | None = None
    index_elems: int = 0  # int64 indices written in forward and read in backward (max-pool argmax)
    gemm: tuple[str, int, int, int] | None = None  # dense GEMM: (kind conv|matmul, rows, inner, outputs)

    def flops(self) -> dict[str, int]:
        """FLOPs by phase."""
        return {p: int(getattr(self, p)) for p in PHASES}


@dataclass(frozen=True)
class ModelTrace:
    """Everything the counter needs from one shape pass of a model at one batch size."""

    model: str
    batch_size: int
    input_shape: tuple[int, ...]
    ops: tuple[OpRecord, ...]
    output_shape: tuple[int, ...]
    trainable_params: int
    sparsifiable: tuple[str, ...]
    default_dense: tuple[str, ...]
    method: str = "meta"
    module_types: dict[str, str] = field(default_factory=dict)
    #: aten ops eager PyTorch dispatches, as (module, "forward" | "backward", count); empty = not counted
    dispatched: tuple[tuple[str, str, int], ...] = ()
    param_tensors: int = 0  # trainable parameter tensors (the for-loop optimizers run per tensor)
