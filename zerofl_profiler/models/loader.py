"""Build a model from a short name or load a user factory from ``pkg.module:factory`` / ``file.py:factory``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from torch import nn

from ..errors import BadInputError, did_you_mean
from .registry import MODELS


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):  # sys.exit() in a user's file: say with what, not just that it failed
        return f"it called sys.exit({exc.code!r}) while being imported or called"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _is_file_target(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _load_module(target: str, spec: str) -> Any:
    if _is_file_target(target):
        path = Path(target).expanduser()
        if not path.is_file():
            raise BadInputError(f"cannot load model {spec!r}: no such file {path}")
        mod_name = "zerofl_user_model_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        mspec = importlib.util.spec_from_file_location(mod_name, path)
        if mspec is None or mspec.loader is None:
            raise BadInputError(f"cannot load model {spec!r}: {path} is not a Python file")
        module = importlib.util.module_from_spec(mspec)
        sys.modules[mod_name] = module
        try:
            mspec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            sys.modules.pop(mod_name, None)
            raise BadInputError(f"cannot load model {spec!r}: {_first_line(exc)}") from None
        return module
    try:
        return importlib.import_module(target)
    except (Exception, SystemExit) as exc:
        raise BadInputError(f"cannot load model {spec!r}: {_first_line(exc)}") from None


def load_factory(spec: str) -> Callable[..., Any]:
    """Resolve ``pkg.module:factory`` or ``path/to/file.py:factory`` to a callable."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise BadInputError(f"model spec {spec!r} must be a built-in name or MODULE:FACTORY / FILE.py:FACTORY")
    module = _load_module(target, spec)
    factory = module
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise BadInputError(f"cannot load model {spec!r}: {target} has no attribute {attr!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise BadInputError(f"cannot load model {spec!r}: {attr} is not callable")
    return factory


def _call_factory(factory: Callable[..., Any], spec: str, **kw: Any) -> nn.Module:
    """Pass num_classes / input_shape only to factories that accept them."""
    try:
        params = inspect.signature(factory).parameters
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        args = {k: v for k, v in kw.items() if var_kw or k in params}
    except (TypeError, ValueError):  # builtins without a signature
        args = {}
    try:
        model = factory(**args)
    except BadInputError:
        raise
    except (Exception, SystemExit) as exc:
        raise BadInputError(f"model factory {spec!r} failed: {_first_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise BadInputError(f"model factory {spec!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def default_input_shape(name: str) -> tuple[int, ...]:
    """The (C, H, W) a built-in model is made for; custom specs have none (pass --input-shape)."""
    entry = MODELS.get(name)
    if entry is None:
        if ":" in name:
            raise BadInputError(f"no default input shape for custom model {name!r}; pass --input-shape")
        raise BadInputError(_unknown(name))
    return entry.input_shape


def _unknown(spec: str) -> str:
    return (f"unknown model {spec!r}{did_you_mean(spec, MODELS)}; built-in: {', '.join(MODELS)}; "
            "or give package.module:factory or path/to/file.py:factory")


def build_model(spec: str, num_classes: int = 10, input_shape: Sequence[int] | None = None) -> nn.Module:
    """A ready nn.Module from a built-in short name or a user factory spec."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0:
        raise BadInputError(f"num_classes must be a positive integer, got {num_classes!r}")
    spec = str(spec).strip()
    entry = MODELS.get(spec)
    shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
    if shape is not None and (not shape or any(s <= 0 for s in shape)):
        raise BadInputError(f"input shape must be positive integers, got {list(shape)}")
    if entry is not None:
        return _call_factory(entry.factory, spec, num_classes=num_classes, input_shape=shape or entry.input_shape)
    if ":" not in spec:
        raise BadInputError(_unknown(spec))
    kw: dict[str, Any] = {"num_classes": num_classes}
    if shape is not None:
        kw["input_shape"] = shape
    return _call_factory(load_factory(spec), spec, **kw)
