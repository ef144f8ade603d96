"""The schema's type annotations, turned into a JSON Schema, a msgspec type and a pure-Python check.

The record dataclasses in :mod:`.schema` are the one definition of the trace format. Their
annotations use plain Python types plus :class:`Range` for bounds (``Annotated[int, Range(ge=0)]``),
``Literal`` for enumerations, ``TypedDict`` for fixed-key JSON objects and dataclasses for nested
records. This module walks those annotations three ways, so the JSON Schema file, the fast
decoder and the fallback validator can never say different things:

- :func:`json_schema` -- the JSON Schema (``trace.schema.json`` is generated from it);
- :func:`msgspec_type` -- msgspec types (Structs that reject unknown fields) for the fast decoder;
- :func:`check` -- the same rules in Python, for when msgspec is missing and for one-off records.

``check`` and msgspec agree on what they accept: an integer where a float is expected is taken
(as a float), a bool is never a number, NaN/inf never appear (they are not JSON), unknown keys
are an error and a missing key without a default is an error.
"""

from __future__ import annotations

import dataclasses
import math
import types
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Mapping, Union, get_args, get_origin, get_type_hints, is_typeddict

from ..errors import TraceFormatError


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of a number in the trace (``ge``: >=, ``le``: <=)."""

    ge: float | None = None
    le: float | None = None


class Obj:
    """A validated JSON object read by attribute, like a msgspec Struct (the fallback's records)."""

    __slots__ = ("__dict__",)

    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Obj) and self.__dict__ == other.__dict__

    def __repr__(self) -> str:
        return f"Obj({self.__dict__!r})"


# ---------------------------------------------------------------------------------------------
# a small normal form of an annotation


@dataclass(frozen=True)
class _Field:
    name: str
    tp: Any
    required: bool
    default: Any


def _unwrap(tp: Any) -> tuple[Any, Range | None]:
    """(bare type, bounds) of a possibly Annotated type."""
    if get_origin(tp) is Annotated:
        base, *meta = get_args(tp)
        rng = next((m for m in meta if isinstance(m, Range)), None)
        return base, rng
    return tp, None


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


@lru_cache(maxsize=None)
def object_fields(cls: type) -> tuple[_Field, ...]:
    """The fields of a dataclass or TypedDict, in declaration order, with required-ness.

    A dataclass field with a default is optional on the wire unless the class names it in
    ``__wire_required__`` (a record line must say its schema version and kind).
    """
    hints = get_type_hints(cls, include_extras=True)
    out: list[_Field] = []
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            default = (f.default if f.default is not dataclasses.MISSING
                       else f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            required = not has_default or f.name in getattr(cls, "__wire_required__", ())
            out.append(_Field(f.name, hints[f.name], required, default))
        return tuple(out)
    return tuple(_Field(name, tp, True, None) for name, tp in hints.items())  # TypedDicts here are total


def _is_object(tp: Any) -> bool:
    return isinstance(tp, type) and (dataclasses.is_dataclass(tp) or is_typeddict(tp))


# ---------------------------------------------------------------------------------------------
# JSON Schema


def json_schema(tp: Any, defs: dict[str, Any], names: Mapping[type, str] | None = None) -> dict[str, Any]:
    """JSON Schema of an annotation; objects go to ``defs`` (under ``names[cls]``, else the class name)."""
    names = names or {}
    tp, rng = _unwrap(tp)
    if tp is Any:
        return {}
    if _is_union(tp):
        args = get_args(tp)
        non_null = [a for a in args if a is not type(None)]
        inner = [json_schema(a, defs, names) for a in non_null]
        if type(None) in args:
            if len(inner) == 1 and set(inner[0]) <= {"type", "minimum", "maximum"} and "type" in inner[0]:
                return {**inner[0], "type": [inner[0]["type"], "null"]}
            inner.append({"type": "null"})
        return inner[0] if len(inner) == 1 else {"anyOf": inner}
    if get_origin(tp) is Literal:
        return {"enum": list(get_args(tp))}
    if tp is bool:
        return {"type": "boolean"}
    if tp in (int, float):
        out: dict[str, Any] = {"type": "integer" if tp is int else "number"}
        if rng is not None and rng.ge is not None:
            out["minimum"] = rng.ge
        if rng is not None and rng.le is not None:
            out["maximum"] = rng.le
        return out
    if tp is str:
        return {"type": "string"}
    origin = get_origin(tp)
    if origin in (list, tuple):
        return {"type": "array", "items": json_schema(get_args(tp)[0], defs, names)}
    if origin is dict:
        return {"type": "object", "additionalProperties": json_schema(get_args(tp)[1], defs, names)}
    if _is_object(tp):
        name = names.get(tp, tp.__name__)
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            flds = object_fields(tp)
            defs[name] = {"type": "object", "additionalProperties": False,
                          "required": [f.name for f in flds if f.required],
                          "properties": {f.name: json_schema(f.tp, defs, names) for f in flds}}
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema for annotation {tp!r}")


# ---------------------------------------------------------------------------------------------
# msgspec


def msgspec_type(tp: Any, _cache: dict[Any, Any] | None = None) -> Any:
    """The msgspec type that decodes and validates exactly what :func:`check` accepts."""
    import msgspec

    cache = {} if _cache is None else _cache
    tp, rng = _unwrap(tp)
    if tp is Any:
        return Any
    if _is_union(tp):
        return Union[tuple(msgspec_type(a, cache) for a in get_args(tp))]  # type: ignore[return-value]
    if get_origin(tp) is Literal or tp in (bool, str, type(None)):
        return tp
    if tp in (int, float):
        if rng is None:
            return tp
        return Annotated[tp, msgspec.Meta(ge=rng.ge, le=rng.le)]
    origin = get_origin(tp)
    if origin in (list, tuple):
        return list[msgspec_type(get_args(tp)[0], cache)]  # type: ignore[misc]
    if origin is dict:
        return dict[str, msgspec_type(get_args(tp)[1], cache)]  # type: ignore[misc]
    if _is_object(tp):
        if tp not in cache:
            flds = object_fields(tp)
            spec = []
            for f in flds:
                mt = msgspec_type(f.tp, cache)
                if f.required:
                    spec.append((f.name, mt))
                else:
                    default = f.default
                    if isinstance(default, (dict, list, tuple)):
                        spec.append((f.name, mt, msgspec.field(default_factory=type(default) if not isinstance(
                            default, tuple) else list)))
                    else:
                        spec.append((f.name, mt, default))
            # required fields must come first in a Struct; msgspec keeps names, order does not matter for JSON
            spec.sort(key=lambda s: len(s) == 3)
            cache[tp] = msgspec.defstruct(f"Wire{tp.__name__}", spec, forbid_unknown_fields=True, gc=False)
        return cache[tp]
    raise TypeError(f"no msgspec type for annotation {tp!r}")


# ---------------------------------------------------------------------------------------------
# the same rules in Python


def check(value: Any, tp: Any, path: str, *, as_obj: bool = False) -> Any:
    """Validate ``value`` against ``tp``; return it normalised (floats as float, missing defaults filled).

    With ``as_obj`` objects come back as :class:`Obj` (read by attribute, like msgspec Structs).
    A violation is a TraceFormatError naming the field path (``flops.sparse.total``).
    """
    tp, rng = _unwrap(tp)
    if tp is Any:
        return value  # any JSON value (it came from a JSON decoder)
    if _is_union(tp):
        args = get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise TraceFormatError(f"{path} must not be null")
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return check(value, a, path, as_obj=as_obj)
            except TraceFormatError as exc:
                errors.append(exc)
        raise errors[0]
    if get_origin(tp) is Literal:
        allowed = get_args(tp)
        if isinstance(value, bool) or value not in allowed:
            raise TraceFormatError(f"{path} must be one of {', '.join(map(str, allowed))}, got {value!r}")
        return value
    if tp is type(None):
        if value is not None:
            raise TraceFormatError(f"{path} must be null, got {value!r}")
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise TraceFormatError(f"{path} must be true or false, got {value!r}")
        return value
    if tp in (int, float):
        ok = isinstance(value, int) or (tp is float and isinstance(value, float))
        if isinstance(value, bool) or not ok:
            what = "an integer" if tp is int else "a number"
            raise TraceFormatError(f"{path} must be {what}, got {value!r}")
        if tp is float:
            value = float(value)
            if not math.isfinite(value):
                raise TraceFormatError(f"{path} must be finite, got {value!r}")
        if rng is not None:
            if rng.ge is not None and value < rng.ge:
                raise TraceFormatError(f"{path} must be >= {rng.ge:g}, got {value!r}")
            if rng.le is not None and value > rng.le:
                limit = f"{rng.le:g}" if isinstance(rng.le, float) else str(rng.le)
                raise TraceFormatError(f"{path} must be <= {limit}, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise TraceFormatError(f"{path} must be a string, got {value!r}")
        return value
    origin = get_origin(tp)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise TraceFormatError(f"{path} must be an array, got {type(value).__name__}")
        item = get_args(tp)[0]
        return [check(v, item, f"{path}[{i}]", as_obj=as_obj) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise TraceFormatError(f"{path} must be an object, got {type(value).__name__}")
        item = get_args(tp)[1]
        return {k: check(v, item, f"{path}.{k}", as_obj=as_obj) for k, v in value.items()}
    if _is_object(tp):
        if not isinstance(value, dict):
            raise TraceFormatError(f"{path or 'record'} must be a JSON object, got {type(value).__name__}")
        flds = object_fields(tp)
        names = {f.name for f in flds}
        unknown = sorted(k for k in value if k not in names)
        if unknown:
            raise TraceFormatError(f"{path or 'record'} has unknown field(s): {', '.join(unknown)}")
        missing = [f.name for f in flds if f.required and f.name not in value]
        if missing:
            raise TraceFormatError(f"{path or 'record'} lacks required field(s): {', '.join(missing)}")
        out: dict[str, Any] = {}
        prefix = f"{path}." if path else ""
        for f in flds:
            if f.name in value:
                out[f.name] = check(value[f.name], f.tp, prefix + f.name, as_obj=as_obj)
            elif as_obj:
                out[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
        return Obj(out) if as_obj else out
    raise TypeError(f"no check for annotation {tp!r}")
