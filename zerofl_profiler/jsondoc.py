"""Whole, strict JSON documents: built in full, checked for non-finite numbers, and only then printed.

Streaming a document straight to stdout would leave half of it there when a NaN turns up midway;
building the text first means a reader gets one complete document or nothing, and the error names
the field that held the number.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

from .errors import ZeroflError


class NonFiniteOutputError(ZeroflError):
    """A result held inf or NaN: nothing is printed, and the field is named (exit 1)."""


def first_non_finite(obj: Any, where: str = "$") -> str | None:
    """The path (``$.runs[0].energy_j``) of the first inf/NaN float in plain JSON data, or None."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else f"{where} = {obj!r}"
    if isinstance(obj, dict):
        for k, v in obj.items():
            hit = first_non_finite(v, f"{where}.{k}")
            if hit:
                return hit
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            hit = first_non_finite(v, f"{where}[{i}]")
            if hit:
                return hit
    return None


def dumps_strict(obj: Any, *, indent: int | None = 2, default: Callable[[Any], Any] | None = None) -> str:
    """The whole document as text; a non-finite number is a NonFiniteOutputError naming its field."""
    try:
        return json.dumps(obj, indent=indent, allow_nan=False, default=default)
    except ValueError:
        plain = json.loads(json.dumps(obj, allow_nan=True, default=default))
        hit = first_non_finite(plain) or "a number"
        raise NonFiniteOutputError(f"refusing to print a JSON document with a non-finite number ({hit})") from None
