"""The one registry of per-op FLOP formulas: a decorator that maps aten op names to functions.

A formula takes an :class:`OpRecord` (shapes of one op in the forward pass) and returns the
:class:`Cost` items it splits into (a conv with bias gives a GEMM cost and a ``bias_add`` cost).
Registering an op twice is an error, so two formulas can never silently compete. An op with no
formula is reported as uncounted by the caller; an op registered with :func:`free` costs 0 FLOPs
on purpose (views, copies, allocation, random-number generation).
"""

from __future__ import annotations

from typing import Callable, Iterable

from ..errors import BadInputError
from .records import Cost, OpRecord

Formula = Callable[[OpRecord], list[Cost]]

FORMULAS: dict[str, Formula] = {}


def normalise(op: str) -> str:
    """In-place variants (``relu_``, ``add_``) share the formula of the op they modify in place."""
    name = op.rsplit(".", 1)[-1] if op.startswith("aten.") else op
    return name[:-1] if name.endswith("_") and not name.endswith("__") and len(name) > 1 else name


def register(*ops: str) -> Callable[[Formula], Formula]:
    """Decorator: register ``fn`` as the formula of each aten op name; duplicates are rejected."""

    def deco(fn: Formula) -> Formula:
        for op in ops:
            key = normalise(op)
            if key in FORMULAS:
                raise BadInputError(f"a FLOP formula for {key!r} is already registered")
            FORMULAS[key] = fn
        return fn

    return deco


def _no_flops(rec: OpRecord) -> list[Cost]:
    return []


def free(ops: Iterable[str]) -> None:
    """Register ops that move or allocate data but do no floating-point arithmetic."""
    register(*ops)(_no_flops)


def lookup(op: str) -> Formula | None:
    """The formula of an op, or None when nobody wrote one (the op is then uncounted)."""
    return FORMULAS.get(normalise(op))
