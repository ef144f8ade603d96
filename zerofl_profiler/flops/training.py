"""The rows of a training step that no module owns: the loss and the optimizer update.

Registries, so a new loss or optimizer is one entry. The optimizer names say exactly which
variant is counted, per trainable parameter P:

===================  =========  =======  ====  ======================================================
name                 FLOPs/P    buffers  ops   update
===================  =========  =======  ====  ======================================================
sgd                  2          0        1     p -= lr * g           (no momentum, no weight decay)
sgd_wd               4          0        2     g += wd * p; p -= lr * g
sgd_momentum         4          1        3     b = mu * b + g; p -= lr * b   (no weight decay)
sgd_momentum_wd      6          1        4     weight decay, then momentum
sgd_nesterov         6          1        4     b = mu * b + g; g += mu * b; p -= lr * g
adam                 12         2        8     two moment updates (3 + 4), sqrt, +eps, divide, *lr, subtract
adadelta             16         2        11    E[g2] = rho E[g2] + (1-rho) g2 (4); std = sqrt(E[g2] + eps) (2);
                                               d = sqrt(E[d2] + eps) / std * g (4); E[d2] update (4); p -= lr d (2)
rmsprop_momentum_wd  13         2        8     g += wd * p (2); v = a v + (1-a) g2 (4); sqrt, +eps (2);
                                               b = mu * b + g / avg (3); p -= lr * b (2)   (not centered)
none                 0          0        0     no update counted (e.g. counting a forward/backward only)
===================  =========  =======  ====  ======================================================


``ops`` = aten ops eager PyTorch dispatches per parameter *tensor* on the for-loop (single-tensor)
path, the only path before PyTorch 2.0 and the one the published rows' sources ran (PyTorch 1.9 /
1.10): ``torch/optim/_functional.py`` of that era (pytorch/pytorch@09d19787) for SGD (``d_p.add``,
``buf.mul_().add_()``, ``param.add_``) and Adam (``mul_().add_()``, ``mul_().addcmul_()``,
``sqrt()``, ``/``, ``add_``, ``addcdiv_``), and ``torch/optim/adadelta.py`` for Adadelta
(``mul_().addcmul_()``, ``add().sqrt_()``, ``add().sqrt_().div_().mul_()``, ``add_``,
``mul_().addcmul_()``), and the functional ``rmsprop`` of ``torch/optim/_functional.py`` for RMSprop
(``grad.add``, ``mul_().addcmul_()``, ``sqrt().add_()``, ``mul_().addcdiv_()``, ``add_``). The step
counter is a Python number there (a host-side tensor from 1.12 on); it launches nothing and is not
counted. The foreach and fused paths (PyTorch >= 2.0 defaults on CUDA) launch a few kernels per
parameter *group* instead; they are not counted here.
``GRAD_RESET_OPS`` adds what ``zero_grad`` dispatches per tensor.

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
    ops_per_tensor: int = 0  # aten ops per parameter tensor on the for-loop path (module docstring)


OPTIMIZERS: dict[str, OptimizerSpec] = {}


def register_optimizer(spec: OptimizerSpec) -> OptimizerSpec:
    """Add an optimizer variant; a duplicate name is an error."""
    if spec.name in OPTIMIZERS:
        raise BadInputError(f"optimizer {spec.name!r} is already registered")
    OPTIMIZERS[spec.name] = spec
    return spec


for _spec in (
    OptimizerSpec("sgd", 2, 0, "plain SGD: no momentum, no weight decay", 1),
    OptimizerSpec("sgd_wd", 4, 0, "SGD with weight decay, no momentum", 2),
    OptimizerSpec("sgd_momentum", 4, 1, "SGD with momentum, no weight decay", 3),
    OptimizerSpec("sgd_momentum_wd", 6, 1, "SGD with momentum and weight decay", 4),
    OptimizerSpec("sgd_nesterov", 6, 1, "SGD with Nesterov momentum, no weight decay", 4),
    OptimizerSpec("adam", 12, 2, "Adam (bias corrections are per-step scalars)", 8),
    OptimizerSpec("adadelta", 16, 2, "Adadelta (rho, eps; lr scales the step)", 11),
    OptimizerSpec("rmsprop_momentum_wd", 13, 2, "RMSprop with momentum and weight decay, not centered", 8),
    OptimizerSpec("none", 0, 0, "no update counted", 0),
):
    register_optimizer(_spec)

#: What ``optimizer.zero_grad()`` dispatches per parameter tensor: ``zero`` (the default before
#: PyTorch 2.0, ``set_to_none=False``: ``p.grad.zero_()``; the next backward then adds into the
#: gradient instead of handing it over, one op either way) or ``none`` (the default from 2.0 on:
#: gradients set to None, nothing dispatched).
GRAD_RESET_OPS = {"zero": 1, "none": 0}


def update_dispatches(name: str, param_tensors: int, grad_reset: str = "none") -> int:
    """Aten ops of one optimizer step and gradient reset on the for-loop path (module docstring)."""
    spec = get_optimizer(name)
    if grad_reset not in GRAD_RESET_OPS:
        raise BadInputError(f"unknown gradient reset {grad_reset!r}; known: {', '.join(GRAD_RESET_OPS)}")
    if spec.name == "none":
        return 0
    return param_tensors * (spec.ops_per_tensor + GRAD_RESET_OPS[grad_reset])


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
