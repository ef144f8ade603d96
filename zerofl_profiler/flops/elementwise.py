"""Formulas for non-GEMM ops: normalisation, activations, pooling, residual adds, softmax, dropout.

All counts are per element, 1 FLOP per add, multiply, compare or transcendental (exp, erf,
tanh); per-channel or per-row scalar work (O(C), e.g. the BN ``rsqrt``) is left out. N is the
number of output elements unless said otherwise. The table (forward, backward_input per element):

==================  =========  ===============  ==============================================
op                  forward    backward_input   why
==================  =========  ===============  ==============================================
relu                1          1                compare; mask select
hardtanh (ReLU6)    2          2                two compares; mask select
leaky_relu          2          2                compare + multiply
gelu                5          9                x/sqrt2, erf, +1, *0.5, *x; cdf + x*pdf, *dy
sigmoid / tanh      4 / 1      3 / 3            neg, exp, +1, div; y(1-y) dy / (1-y^2) dy
silu / hardswish    5 / 5      9 / 4            x * sigmoid(x); x * relu6(x+3) / 6
add / sub           1          1                the add; its backward is the gradient
                                                 accumulation at the matching fork (sub: negate)
mul / div           1          1 per operand    div's divisor gradient costs 3
addcmul             2          1 per operand    a + t1 * t2 (scalar value folded): as add + mul
dropout             2          2                mask and scale (RNG is not a FLOP)
softmax             5          4                max, sub, exp, sum, div; y (dy - sum(dy y))
log_softmax         5          4                max, sub, exp, sum, sub; dy - exp(y) sum(dy)
mean / sum          N_in       N_out / 0        one add per input; divide (mean) per output
adaptive avg pool   N_in       N_in             one add per input; spread back per input
max pool (k elems)  (k-1)/out  1/out            compares; scatter-add to the argmax
avg pool (k elems)  k/out      (k+1)/out        k-1 adds + divide; divide + k adds
batch norm (train)  7 (5)      5 (8)            mean, centre, square+acc, scale, affine (2);
                                                 weights: dgamma 2 + dbeta 1 = 3
batch norm (eval)   2          1                folded scale and shift
layer/group norm    7 (5)      5 (8)            as batch norm in training
==================  =========  ===============  ==============================================

Numbers in parentheses: without affine parameters. Backward phases are 0 when no input
(weight) of the op needs a gradient. Op classes (one efficiency each in a device file): the
pooling rows are ``pool``, the normalisation rows ``norm``, every other row here ``elementwise``.
"""

from __future__ import annotations

from math import prod
from typing import Callable, Sequence

from .records import Cost, OpRecord, TensorInfo
from .registry import free, register


def _float_tensors(rec: OpRecord) -> list[TensorInfo]:
    return [t for t in rec.tensors if t.floating]


def _activation_cost(rec: OpRecord, fwd: int, bwd: int, *, weight_bwd: int = 0, op_class: str = "elementwise",
                     index_elems: int = 0) -> Cost:
    """An elementwise-like cost (class ``op_class``) whose backward runs only when some input needs a gradient."""
    ts = _float_tensors(rec)
    acts = [t for t in ts if not t.is_param]
    params = [t for t in ts if t.is_param]
    needs_in = any(t.requires_grad for t in acts)
    needs_w = any(t.requires_grad for t in params)
    return Cost(op_class, forward=fwd, backward_input=bwd if needs_in else 0,
                backward_weight=weight_bwd if needs_w else 0, weights=sum(t.numel for t in params),
                inputs=sum(t.numel for t in acts), outputs=rec.out.numel,
                needs_input_grad=needs_in, needs_weight_grad=needs_w, index_elems=index_elems if needs_in else 0)


def _per_element(fwd: int, bwd: int) -> Callable[[OpRecord], list[Cost]]:
    def formula(rec: OpRecord) -> list[Cost]:
        n = rec.out.numel
        return [_activation_cost(rec, fwd * n, bwd * n)]

    formula.__doc__ = f"{fwd} FLOP(s) per element forward, {bwd} backward."
    return formula


#: op -> (forward, backward_input) FLOPs per output element; see the module table.
UNARY: dict[tuple[str, ...], tuple[int, int]] = {
    ("relu",): (1, 1),
    ("hardtanh", "relu6"): (2, 2),
    ("leaky_relu",): (2, 2),
    ("gelu",): (5, 9),
    ("sigmoid",): (4, 3),
    ("tanh",): (1, 3),
    ("silu",): (5, 9),
    ("hardswish",): (5, 4),
    ("hardsigmoid",): (4, 2),
    ("elu",): (3, 3),
    ("neg",): (1, 1),
    ("abs",): (1, 2),
    ("exp",): (1, 1),
    ("log",): (1, 1),
    ("sqrt",): (1, 2),
    ("rsqrt",): (1, 3),
    ("clamp", "clamp_min", "clamp_max"): (2, 2),
    ("native_dropout",): (2, 2),
    ("where",): (1, 1),
}

for _names, (_f, _b) in UNARY.items():
    register(*_names)(_per_element(_f, _b))


def _grad_operands(rec: OpRecord, params: bool) -> list[TensorInfo]:
    return [t for t in rec.args[:2]
            if isinstance(t, TensorInfo) and t.floating and t.requires_grad and t.is_param == params]


@register("add", "sub", "rsub")
def add_formula(rec: OpRecord) -> list[Cost]:
    """One FLOP per output element; backward: the gradient accumulation at the matching fork
    (a parameter operand, e.g. a hand-written bias, reduces its gradient: one add per element)."""
    n = rec.out.numel
    return [_activation_cost(rec, n, n, weight_bwd=n * len(_grad_operands(rec, True)))]


@register("mul")
def mul_formula(rec: OpRecord) -> list[Cost]:
    """One multiply per element; backward one multiply per operand that needs a gradient
    (activations: backward_input; parameters, e.g. a learnable scale: backward_weight)."""
    n = rec.out.numel
    return [_activation_cost(rec, n, n * len(_grad_operands(rec, False)),
                             weight_bwd=n * len(_grad_operands(rec, True)))]


@register("addcmul")
def addcmul_formula(rec: OpRecord) -> list[Cost]:
    """``input + value * t1 * t2``: a multiply and an add per element (the scalar ``value`` folded);
    backward one FLOP per operand that needs a gradient (``input``: the accumulation, as add; each
    factor: a multiply, as mul)."""
    n = rec.out.numel
    ops = [t for t in rec.args[:3] if isinstance(t, TensorInfo) and t.floating and t.requires_grad]
    return [_activation_cost(rec, 2 * n, n * sum(not t.is_param for t in ops),
                             weight_bwd=n * sum(t.is_param for t in ops))]


@register("div")
def div_formula(rec: OpRecord) -> list[Cost]:
    """One divide per element; backward 1 for the dividend, 3 for the divisor (-dy a / b^2)."""
    n = rec.out.numel
    a, b = (rec.args + (None, None))[:2]
    bwd = (n if isinstance(a, TensorInfo) and a.requires_grad else 0) + \
          (3 * n if isinstance(b, TensorInfo) and b.requires_grad else 0)
    return [_activation_cost(rec, n, bwd)]


@register("_softmax", "softmax")
def softmax_formula(rec: OpRecord) -> list[Cost]:
    """max, subtract, exp, sum, divide; backward y * (dy - sum(dy * y))."""
    n = rec.out.numel
    return [_activation_cost(rec, 5 * n, 4 * n)]


@register("_log_softmax", "log_softmax")
def log_softmax_formula(rec: OpRecord) -> list[Cost]:
    """max, subtract, exp, sum, subtract log-sum; backward dy - exp(y) * sum(dy)."""
    n = rec.out.numel
    return [_activation_cost(rec, 5 * n, 4 * n)]


@register("mean")
def mean_formula(rec: OpRecord) -> list[Cost]:
    """One add per input element (the divide folded in); backward one divide per output."""
    return [_activation_cost(rec, rec.args[0].numel, rec.out.numel)]


@register("sum")
def sum_formula(rec: OpRecord) -> list[Cost]:
    """One add per input element beyond the first of each output; backward is a broadcast."""
    return [_activation_cost(rec, max(rec.args[0].numel - rec.out.numel, 0), 0)]


@register("_adaptive_avg_pool2d", "adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_avg_pool1d")
def adaptive_avg_pool_formula(rec: OpRecord) -> list[Cost]:
    """Each input added once into its window; backward spreads each window's gradient to its inputs."""
    n_in = rec.args[0].numel
    return [_activation_cost(rec, n_in, n_in, op_class="pool")]


def _kernel_elems(ks: Sequence[int] | int, dims: int = 2) -> int:
    if isinstance(ks, int):
        return ks**dims
    ks = list(ks)
    return prod(ks) if len(ks) == dims else ks[0] ** dims


@register("max_pool2d_with_indices", "max_pool2d", "max_pool1d", "max_pool3d_with_indices")
def max_pool_formula(rec: OpRecord) -> list[Cost]:
    """k-1 compares per output; backward one scatter-add per output to its argmax.

    Training saves one int64 argmax index per output (written forward, read backward): bytes only.
    """
    dims = len(rec.args[0].shape) - 2
    k = _kernel_elems(rec.args[1], dims)
    n = rec.out.numel
    with_idx = rec.op.endswith("with_indices") or len(rec.outputs) > 1
    return [_activation_cost(rec, (k - 1) * n, n, op_class="pool", index_elems=n if with_idx else 0)]


@register("avg_pool2d", "avg_pool1d", "avg_pool3d")
def avg_pool_formula(rec: OpRecord) -> list[Cost]:
    """k-1 adds and a divide per output; backward a divide and k adds per output."""
    dims = len(rec.args[0].shape) - 2
    k = _kernel_elems(rec.args[1], dims)
    n = rec.out.numel
    return [_activation_cost(rec, k * n, (k + 1) * n, op_class="pool")]


def _norm_cost(rec: OpRecord, x: TensorInfo, weight: object, bias: object, training: bool) -> list[Cost]:
    n = x.numel
    affine = isinstance(weight, TensorInfo)
    params = [t for t in (weight, bias) if isinstance(t, TensorInfo)]
    needs_w = any(t.requires_grad for t in params)
    if training:
        fwd = 7 * n if affine else 5 * n
        bi = 5 * n if affine and needs_w else 8 * n
    else:
        fwd, bi = 2 * n, n
    bw = 3 * n if needs_w else 0
    return [Cost("norm", forward=fwd, backward_input=bi if x.requires_grad else 0, backward_weight=bw,
                 weights=sum(t.numel for t in params), inputs=n, outputs=n,
                 needs_input_grad=x.requires_grad, needs_weight_grad=needs_w)]


@register("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_functional",
          "cudnn_batch_norm", "miopen_batch_norm")
def batch_norm_formula(rec: OpRecord) -> list[Cost]:
    """Batch statistics, normalise, affine (training); folded scale+shift (eval)."""
    a = rec.args
    training = bool(a[5]) if len(a) > 5 and isinstance(a[5], bool) else True
    return _norm_cost(rec, a[0], a[1], a[2], training)


@register("_native_batch_norm_legit_no_training")
def batch_norm_eval_formula(rec: OpRecord) -> list[Cost]:
    """BN with running statistics: a folded scale and shift."""
    return _norm_cost(rec, rec.args[0], rec.args[1], rec.args[2], False)


@register("native_layer_norm")
def layer_norm_formula(rec: OpRecord) -> list[Cost]:
    """Statistics over the normalised dims, as batch norm in training."""
    a = rec.args
    return _norm_cost(rec, a[0], a[2], a[3], True)


@register("native_group_norm")
def group_norm_formula(rec: OpRecord) -> list[Cost]:
    """Statistics per group, as batch norm in training."""
    a = rec.args
    return _norm_cost(rec, a[0], a[1], a[2], True)


# Data movement, views, allocation and random-number generation: 0 FLOPs on purpose.
free([
    "view", "_unsafe_view", "reshape", "_reshape_alias", "t", "transpose", "permute", "expand", "expand_as",
    "detach", "clone", "contiguous", "alias", "_to_copy", "copy", "to", "empty", "empty_like", "empty_strided",
    "zeros", "zeros_like", "ones", "ones_like", "full", "full_like", "fill", "zero", "new_empty", "new_zeros",
    "new_ones", "new_full", "new_empty_strided", "bernoulli", "rand", "rand_like", "randn", "randn_like",
    "randint", "lift_fresh", "lift_fresh_copy", "slice", "select", "squeeze", "unsqueeze", "flatten", "unflatten",
    "cat", "stack", "split", "split_with_sizes", "chunk", "unbind", "as_strided", "constant_pad_nd",
    "index_select", "gather", "resize", "_local_scalar_dense", "scalar_tensor", "arange", "masked_fill",
])
