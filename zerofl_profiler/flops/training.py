"""The rows of a training step that no module owns: the loss and the optimizer update.

Registries, so a new loss or optimizer is one entry. The optimizer names say exactly which
variant is counted, per trainable parameter P:

=================  =========  =======  ===========================================================
name               FLOPs/P    buffers  update
=================  =========  =======  ===========================================================
sgd                2          0        p -= lr * g           (no momentum, no weight decay)
sgd_wd             4          0        g += wd * p; p -= lr * g
sgd_momentum       4          1        b = mu * b + g; p -= lr * b   (no weight decay)
sgd_momentum_wd    6          1        weight decay, then momentum
sgd_nesterov       6          1        b = mu * b + g; g += mu * b; p -= lr * g
adam               12         2        two moment updates (3 + 4), sqrt, +eps, divide, *lr, subtract
none               0          0        no update counted (e.g. counting a forward/backward only)
=================  =========  =======  ===========================================================

SWAT computes a dense weight gradient, so the update is dense in the sparse count too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadInputError
from .records import Cost


@dataclass(frozen=True)
class OptimizerSpec:
    """FLOPs per trainable parameter and state buffers per parameter of one optimizer variant."""

    name: str
    flops_per_param: int
    buffers: int
    doc: str


OPTIMIZERS: dict[str, OptimizerSpec] = {}


def register_optimizer(spec: OptimizerSpec) -> OptimizerSpec:
    """Add an optimizer variant; a duplicate name is an error."""
    if spec.name in OPTIMIZERS:
        raise BadInputError(f"optimizer {spec.name!r} is already registered")
    OPTIMIZERS[spec.name] = spec
    return spec


for _spec in (
    OptimizerSpec("sgd", 2, 0, "plain SGD: no momentum, no weight decay"),
    OptimizerSpec("sgd_wd", 4, 0, "SGD with weight decay, no momentum"),
    OptimizerSpec("sgd_momentum", 4, 1, "SGD with momentum, no weight decay"),
    OptimizerSpec("sgd_momentum_wd", 6, 1, "SGD with momentum and weight decay"),
    OptimizerSpec("sgd_nesterov", 6, 1, "SGD with Nesterov momentum, no weight decay"),
    OptimizerSpec("adam", 12, 2, "Adam (bias corrections are per-step scalars)"),
    OptimizerSpec("none", 0, 0, "no update counted"),
):
    register_optimizer(_spec)


def get_optimizer(name: str) -> OptimizerSpec:
    """Look up an optimizer variant by name, naming the known ones on error."""
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise BadInputError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}") from None


def optimizer_cost(name: str, trainable_params: int) -> Cost:
    """The ``<optimizer>`` row: the update of every trainable parameter once per step."""
    spec = get_optimizer(name)
    return Cost("optimizer", update=spec.flops_per_param * trainable_params, weights=trainable_params,
                label=spec.name)


def cross_entropy_cost(logits_shape: tuple[int, ...]) -> Cost:
    """The ``<loss>`` row: softmax + cross-entropy over logits of shape (B, ..., C), mean-reduced.

    Forward: log_softmax (max, subtract, exp, sum, subtract: 5 per logit) + picking the target
    and averaging (2 per sample). Backward: the log_softmax gradient (4 per logit) + the NLL
    gradient (1 per sample). There are no parameters.
    """
    n = 1
    for s in logits_shape:
        n *= int(s)
    rows = n // int(logits_shape[-1]) if logits_shape else 1
    return Cost("elementwise", forward=5 * n + 2 * rows, backward_input=4 * n + rows, inputs=n, outputs=rows,
                needs_input_grad=True, label="cross_entropy")
