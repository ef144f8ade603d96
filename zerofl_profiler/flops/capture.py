"""One shape pass of a model: every aten op of the forward, its tensors' shapes and its module.

Why this way: counts are analytic functions of shapes, so we only need the shapes. Running the
forward on the ``meta`` device (parameters swapped for meta tensors with ``functional_call``,
nothing copied, nothing computed) gives exact shapes at the real batch size in a few tens of
milliseconds for a ResNet-18, independent of batch size and device. Intercepting at the aten
level (a ``TorchDispatchMode``) sees what module hooks cannot: residual adds, ``F.relu`` and
other functional ops inside a block's ``forward``, so nothing is silently dropped. Backward costs
are derived from the forward shapes by formula. Models that cannot run on ``meta`` (data-dependent
ops such as ``.item()``) fall back to one real forward pass.

The same pass also counts the aten ops eager PyTorch dispatches (``ModelTrace.dispatched``): every
op of the forward, of a cross-entropy loss on the output and of its backward (run on ``meta``
too), per module and phase. A backward op is charged to the module whose forward created the
autograd node running it (:func:`torch._C._current_autograd_node`; each module's forward labels
the nodes it created, innermost module first). Ops of the loss go to ``<loss>``. Launch counting
is best effort: a model whose backward cannot run leaves ``dispatched`` empty (one dispatch per
row is then assumed downstream).
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any, Callable

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

from ..errors import BadInputError
from .layers import default_dense_layers, sparsifiable_layers
from .records import ModelTrace, OpRecord, TensorInfo

#: Ops whose output is a view or copy of their input: a view of a parameter is still the weight.
_VIEW_OPS = frozenset({
    "t", "view", "_unsafe_view", "reshape", "_reshape_alias", "transpose", "permute", "expand", "detach",
    "alias", "slice", "select", "squeeze", "unsqueeze", "as_strided", "contiguous", "clone", "_to_copy",
})
ROOT = "<model>"
LOSS = "<loss>"
#: Profiler markers the optimizer and autograd emit: dispatched, but no tensor work.
_MARKERS = frozenset({"_record_function_enter", "_record_function_enter_new", "_record_function_exit"})


class _Tally(TorchDispatchMode):
    """Count every aten op dispatched (profiler markers aside), with no attribution."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func.overloadpacket.__name__ not in _MARKERS:
            self.n += 1
        return func(*args, **(kwargs or {}))


def count_dispatched(fn: Callable[[], Any]) -> int:
    """Aten ops eager PyTorch dispatches while ``fn()`` runs (a real step, for measurement and checks)."""
    tally = _Tally()
    with tally:
        fn()
    return tally.n


class _Recorder(TorchDispatchMode):
    """Record each op with the innermost running module (a stack kept by module hooks)."""

    def __init__(self, param_ids: set[int], module_types: dict[str, tuple[str, bool]]) -> None:
        super().__init__()
        self.param_ids = param_ids
        self.module_types = module_types
        self.stack: list[str] = []
        self.ops: list[OpRecord] = []
        self._keep: list[torch.Tensor] = []  # keep views alive so their ids are never reused
        self.phase = "forward"  # "forward" records OpRecords; "backward" only counts dispatches
        self.labels: dict[Any, str] = {}  # autograd node -> module whose forward created it
        self.dispatched: Counter[tuple[str, str]] = Counter()  # (module, phase) -> aten ops

    def _info(self, t: Any) -> Any:
        if isinstance(t, torch.Tensor):
            return TensorInfo(tuple(int(s) for s in t.shape), bool(t.requires_grad), id(t) in self.param_ids,
                              bool(t.is_floating_point() or t.is_complex()))
        return t

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        op = func.overloadpacket.__name__
        if op not in _MARKERS:
            if self.phase == "backward":
                node = torch._C._current_autograd_node()
                self.dispatched[(self.labels.get(node, LOSS), "backward")] += 1
                return out
            self.dispatched[(self.stack[-1] if self.stack else ROOT, "forward")] += 1
        if self.phase != "forward" or (self.stack and self.stack[-1] == LOSS):
            return out
        in_tensors = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)]
        out_tensors = [o for o in tree_flatten(out)[0] if isinstance(o, torch.Tensor)]
        if op.rstrip("_") in _VIEW_OPS and in_tensors and id(in_tensors[0]) in self.param_ids:
            for o in out_tensors:
                self.param_ids.add(id(o))
                self._keep.append(o)
        if not any(t.is_floating_point() or t.is_complex() for t in in_tensors + out_tensors):
            return out  # integer bookkeeping (e.g. BN's num_batches_tracked += 1) is not a FLOP
        name = self.stack[-1] if self.stack else ROOT
        mtype, leaf = self.module_types.get(name, ("", False))
        self.ops.append(OpRecord(
            op=op, module=name, module_type=mtype, leaf=leaf,
            args=tuple(tree_map(self._info, list(args))), kwargs=tree_map(self._info, dict(kwargs)),
            outputs=tuple(self._info(o) for o in out_tensors)))
        return out


def _forward(model: nn.Module, x: torch.Tensor, tensors: dict[str, torch.Tensor] | None,
             rec: _Recorder) -> torch.Tensor:
    def push(name: str) -> Any:
        def hook(mod: nn.Module, inp: Any) -> None:
            rec.stack.append(name)
        return hook

    def pop(mod: nn.Module, inp: Any, out: Any) -> None:
        _label_nodes(rec.labels, out, inp, rec.stack.pop())

    handles = []
    for name, m in model.named_modules():
        handles.append(m.register_forward_pre_hook(push(name or ROOT)))
        handles.append(m.register_forward_hook(pop))
    try:
        with torch.enable_grad(), rec:
            out = torch.func.functional_call(model, tensors, (x,)) if tensors is not None else model(x)
    finally:
        for h in handles:
            h.remove()
    leaves = [o for o in tree_flatten(out)[0] if isinstance(o, torch.Tensor)]
    if not leaves:
        raise BadInputError(f"model {type(model).__name__} returned no tensor")
    return leaves[0]


def _grad_fns(value: Any) -> list[Any]:
    return [t.grad_fn for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor) and t.grad_fn is not None]


def _label_nodes(labels: dict[Any, str], out: Any, inp: Any, name: str) -> None:
    """Charge the autograd nodes a module's forward created (those not yet labelled) to the module."""
    stop = set(_grad_fns(inp))
    todo = [n for n in _grad_fns(out) if n not in labels and n not in stop]
    while todo:
        node = todo.pop()
        if node in labels or node in stop:
            continue
        labels[node] = name
        todo.extend(nxt for nxt, _ in node.next_functions if nxt is not None and nxt not in labels)


def _backward(out: torch.Tensor, rec: _Recorder) -> None:
    """Dispatch a cross-entropy loss on the output and its backward, counting their ops (best effort)."""
    try:
        n = out.numel() // out.shape[-1] if out.dim() >= 2 else 1
        target = torch.zeros(n, dtype=torch.long, device=out.device)  # the data loader's, not the step's
        with torch.enable_grad(), rec:
            rec.stack.append(LOSS)
            logits = out if out.dim() == 2 else out.reshape(-1, out.shape[-1]) if out.dim() > 2 else out.reshape(1, -1)
            loss = torch.nn.functional.cross_entropy(logits, target)
            rec.stack.pop()
            rec.phase = "backward"
            loss.backward()
    except Exception:  # launch counts are optional: the FLOP count stands without them
        rec.dispatched.clear()
    finally:
        rec.phase = "done"
        rec.stack.clear()


def _param_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _meta_pass(model: nn.Module, shape: tuple[int, ...], types: dict[str, tuple[str, bool]]
               ) -> tuple[_Recorder, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for n, p in model.named_parameters():
        tensors[n] = torch.empty(p.shape, dtype=p.dtype, device="meta").requires_grad_(p.requires_grad)
    param_ids = {id(t) for t in tensors.values()}
    for n, b in model.named_buffers():
        tensors[n] = torch.empty(b.shape, dtype=b.dtype, device="meta")
    rec = _Recorder(param_ids, types)
    x = torch.empty(shape, dtype=_param_dtype(model), device="meta")
    return rec, _forward(model, x, tensors, rec)


def _real_pass(model: nn.Module, shape: tuple[int, ...], types: dict[str, tuple[str, bool]]
               ) -> tuple[_Recorder, torch.Tensor]:
    model = copy.deepcopy(model)  # a real pass updates BN running stats: keep the caller's model untouched
    rec = _Recorder({id(p) for p in model.parameters()}, types)
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(shape, generator=gen, dtype=_param_dtype(model)).to(dev)
    return rec, _forward(model, x, None, rec)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def trace_model(model: nn.Module, input_shape: tuple[int, ...], batch_size: int, *,
                name: str | None = None, dispatch: bool = True) -> ModelTrace:
    """Run one shape pass in training mode (meta device first, real pass as fallback).

    ``dispatch`` also runs the loss and backward to count the aten ops they dispatch (module docstring).
    """
    if not isinstance(model, nn.Module):
        raise BadInputError(f"expected a torch.nn.Module, got {type(model).__name__}")
    shape = (int(batch_size), *(int(s) for s in input_shape))
    if any(s <= 0 for s in shape):
        raise BadInputError(f"batch size and input shape must be positive, got {shape}")
    types = {n or ROOT: (type(m).__name__, not any(True for _ in m.children())) for n, m in model.named_modules()}
    modes = [(m, m.training) for m in model.modules()]
    model.train()
    method = "meta"
    try:
        try:
            rec, out = _meta_pass(model, shape, types)
        except BadInputError:
            raise
        except Exception:
            method = "real"
            try:
                rec, out = _real_pass(model, shape, types)
            except Exception as exc:
                raise BadInputError(
                    f"model {name or type(model).__name__} does not run on input of shape "
                    f"{list(shape)}: {_first_line(exc)}") from None
    finally:
        for m, mode in modes:
            m.training = mode
    if dispatch and out.requires_grad and out.is_floating_point():
        _backward(out, rec)
    else:
        rec.dispatched.clear()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelTrace(
        model=name or type(model).__name__, batch_size=int(batch_size), input_shape=tuple(shape[1:]),
        ops=tuple(rec.ops), output_shape=tuple(int(s) for s in out.shape), trainable_params=int(trainable),
        sparsifiable=tuple(n or ROOT for n in sparsifiable_layers(model)),
        default_dense=tuple(n or ROOT for n in default_dense_layers(model)),
        method=method, module_types={n: t for n, (t, _) in types.items()},
        dispatched=tuple(sorted((m, p, n) for (m, p), n in rec.dispatched.items())),
        param_tensors=sum(1 for p in model.parameters() if p.requires_grad))
