"""JSON decoders for trace lines: msgspec (typed, validating, fast) or the standard library.

msgspec decodes a block of lines straight into Structs generated from the schema dataclasses and
validates types, bounds and enumerations in C; ``benchmarks/bench_estimate.py --decoders``
measures it against orjson and ``json`` on real trace lines. Where msgspec is missing the reader
falls back to ``json`` plus :func:`.typespec.check`, which accepts and rejects the same lines and
yields the same columns (tests run both).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any, Callable

#: Decoder names, fastest first; "auto" picks the first one importable.
DECODERS = ("msgspec", "json")


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-finite number {name} (a trace holds finite numbers or null)")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"non-finite number {text[:40]} (a trace holds finite numbers or null)")
    return v


def loads(line: bytes | bytearray | memoryview | str) -> Any:
    """Standard-library decoding that, like msgspec, refuses NaN, Infinity, overflowing numbers and
    bytes that are not UTF-8 (``json.loads`` alone guesses UTF-16/32 from zero bytes at the start)."""
    text = line if isinstance(line, str) else bytes(line).decode("utf-8")
    return json.loads(text, parse_constant=_no_constants, parse_float=_finite_float)


def decode_object(raw: bytes | str, path: object, lineno: int) -> dict[str, Any]:
    """One trace line as a JSON object; anything else is a TraceFormatError naming the line."""
    from ..errors import TraceFormatError

    try:
        obj = loads(raw)
    except UnicodeDecodeError:
        raise TraceFormatError(f"{path}:{lineno}: not UTF-8 text") from None
    except RecursionError:
        raise TraceFormatError(f"{path}:{lineno}: JSON nested too deeply") from None
    except ValueError as exc:
        raise TraceFormatError(f"{path}:{lineno}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(obj, dict):
        raise TraceFormatError(f"{path}:{lineno}: expected a JSON object")
    return obj


@lru_cache(maxsize=None)
def have_msgspec() -> bool:
    """Whether the fast decoder is importable (cached)."""
    try:
        import msgspec  # noqa: F401
    except ImportError:
        return False
    return True


def resolve(name: str = "auto") -> str:
    """The decoder to use: ``auto`` = msgspec where installed, else json."""
    if name == "auto":
        return "msgspec" if have_msgspec() else "json"
    if name not in DECODERS:
        raise ValueError(f"unknown decoder {name!r}; choose from {', '.join(DECODERS)} or auto")
    if name == "msgspec" and not have_msgspec():
        raise ImportError("msgspec is not installed")
    return name


@lru_cache(maxsize=None)
def typed_lines_decoder(cls: type) -> Callable[[bytes], list[Any]]:
    """msgspec's decode_lines for the wire Struct of ``cls`` (blank lines skipped)."""
    import msgspec

    from .typespec import msgspec_type

    return msgspec.json.Decoder(msgspec_type(cls)).decode_lines
