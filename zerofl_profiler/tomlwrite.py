"""TOML text of the documents the project writes (config.toml, device files), with or without tomli_w.

``tomli_w`` writes them where it is installed. Where it is not -- a GPU box that has only torch,
numpy, click, rich, matplotlib and nvidia-ml-py, as ``benchmarks/gpu_check.sh`` assumes -- a small
writer below covers what these documents hold: nested tables, strings, booleans, integers, finite
and non-finite floats, and arrays of those or of tables (written inline). ``tests/test_tomlwrite.py``
checks that ``tomllib`` reads both writers' text back to the same document.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def dumps(doc: Mapping[str, Any]) -> str:
    """The document as TOML text (tomli_w where importable, else the built-in writer)."""
    try:
        import tomli_w
    except ImportError:
        return dumps_builtin(doc)
    return tomli_w.dumps(doc)


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _string(k)


def _string(s: str) -> str:
    # JSON's escapes are TOML basic-string escapes; DEL must be escaped in TOML and JSON leaves it.
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(str(k))} = {_value(x, f'{where}.{k}')}" for k, x in v.items()
                               if x is not None) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, f"{where}[]") for x in v) + "]"
    raise TypeError(f"{where}: cannot write {type(v).__name__} as TOML")


def dumps_builtin(doc: Mapping[str, Any]) -> str:
    """The built-in writer: scalars and arrays first, then each sub-table as a [header]; None is left out."""
    lines: list[str] = []

    def table(t: Mapping[str, Any], path: tuple[str, ...]) -> None:
        subs = [(k, v) for k, v in t.items() if isinstance(v, Mapping)]
        plain = [(k, v) for k, v in t.items() if not isinstance(v, Mapping) and v is not None]
        if path and (plain or not subs):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(_key(p) for p in path) + "]")
        for k, v in plain:
            lines.append(f"{_key(str(k))} = {_value(v, '.'.join((*path, str(k))))}")
        for k, v in subs:
            table(v, (*path, str(k)))

    table(doc, ())
    return "\n".join(lines) + "\n"


__all__ = ["dumps", "dumps_builtin"]
