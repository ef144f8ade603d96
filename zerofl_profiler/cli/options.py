"""Options shared by several commands, so every costing command takes them the same way."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable

import click

from ..errors import BadInputError, check_fraction
from ..hardware_models.selection import CostingSelection

__all__ = ["CostingSelection", "SparsityChoice", "costing_options", "emit_json", "parse_float_list",
           "parse_int_tuple", "resolve_sparsity", "sparsity_options", "stderr_console"]


def parse_dense_layers(text: str | None) -> list[str] | None:
    """--dense-layers, spelled one way everywhere: None keeps the model's default; '' or 'none' means none."""
    if text is None:
        return None
    if text.strip().lower() in ("", "none"):
        return []
    names = [n.strip() for n in text.split(",")]
    if any(not n for n in names):
        raise BadInputError(f"malformed --dense-layers {text!r}: expected NAME,NAME,... or 'none'")
    return names


#: The --model help of every command that builds a model: a spec other than a built-in runs code.
MODEL_HELP = ("Built-in model (resnet18, cnn, mobilenet, vgg, lenet) or pkg.module:factory / path.py:factory. "
              "A spec imports and runs that module or file with your permissions: use only code you trust. "
              "Reading or reporting a finished run never imports its model.")


def costing_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add --device/--device-file (repeatable), --network, --device-mix, --runtime, --precision; pass ``costing``."""
    f = click.option("--precision", default=None, type=click.Choice(["fp32", "tf32", "fp16", "bf16"]),
                     help="Run the step as a framework runs this precision: GEMMs at its peak, 16-bit "
                          "tensors for fp16/bf16, FP32 optimizer (docs/devices.md; default: each unit's own "
                          "per-class choice).")(f)
    f = click.option("--runtime", default=None, metavar="NAME",
                     help="Runtime profile of every unit (default: each unit's default_runtime).")(f)
    f = click.option("--device-mix", "device_mix", default=None, metavar="NAME=SHARE,...",
                     help="Assign each client a device from this mix (seeded, recorded).")(f)
    f = click.option("--network", default=None, metavar="NAME",
                     help="Network for upload/download (wifi, lte, 5g, ...).")(f)
    f = click.option("--device-file", "device_files", multiple=True, metavar="FILE.toml",
                     type=click.Path(dir_okay=False),
                     help="A device described in your own TOML file (repeatable).")(f)
    f = click.option("--device", "devices", multiple=True, metavar="NAME",
                     help="A device from the catalogue (repeatable; see `zerofl-profile devices`).")(f)

    def wrapper(*args: Any, devices: tuple[str, ...], device_files: tuple[str, ...],
                network: str | None, device_mix: str | None, runtime: str | None, precision: str | None,
                **kw: Any) -> Any:
        kw["costing"] = CostingSelection(tuple(devices), tuple(device_files), network, device_mix, runtime,
                                         precision)
        return f(*args, **kw)

    import functools

    return functools.update_wrapper(wrapper, f)


@dataclass(frozen=True)
class SparsityChoice:
    """Weight and activation sparsity after applying --sparsity and the split flags."""

    weight: float
    activation: float


def resolve_sparsity(sparsity: float | None, weight: float | None, activation: float | None,
                     default: float = 0.0) -> SparsityChoice:
    """--sparsity sets both; --weight-sparsity / --activation-sparsity override it.

    Activation sparsity defaults to the weight sparsity, as in SWAT.
    """
    w = weight if weight is not None else (sparsity if sparsity is not None else default)
    a = activation if activation is not None else (sparsity if sparsity is not None else w)
    return SparsityChoice(check_fraction("weight sparsity", w), check_fraction("activation sparsity", a))


def sparsity_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add --sparsity, --weight-sparsity, --activation-sparsity (raw floats; use resolve_sparsity)."""
    f = click.option("--activation-sparsity", type=float, default=None,
                     help="Fraction of activations dropped in backward (default: weight sparsity).")(f)
    f = click.option("--weight-sparsity", type=float, default=None,
                     help="Fraction of weights dropped (top-k by magnitude kept).")(f)
    f = click.option("--sparsity", type=float, default=None,
                     help="Sets weight and activation sparsity together.")(f)
    return f


def parse_int_tuple(text: str, what: str = "shape") -> tuple[int, ...]:
    """Parse '3,32,32' (or '3x32x32') into (3, 32, 32); the error names the part that is not one."""
    text = str(text).strip()
    raw = text.split(",") if "," in text else text.split("x")
    parts: list[int] = []
    for i, p in enumerate(raw, start=1):
        try:
            v = int(p.strip())
        except ValueError:
            raise BadInputError(f"malformed {what} {text!r}: part {i} ({p.strip()!r}) is not an integer; "
                                f"expected positive integers like 3,32,32") from None
        if v <= 0:
            raise BadInputError(f"malformed {what} {text!r}: part {i} ({v}) is not positive; "
                                f"expected positive integers like 3,32,32")
        parts.append(v)
    return tuple(parts)


def parse_float_list(text: str, what: str) -> tuple[float, ...]:
    """Parse '0,0.9,0.95' into floats; a malformed value is a BadInputError."""
    import math

    vals: list[float] = []
    for p in (p.strip() for p in str(text).split(",") if p.strip()):
        try:
            v = float(p)
        except ValueError:
            raise BadInputError(f"malformed {what} {text!r}: {p!r} is not a number "
                                f"(expected numbers like 0,0.9,0.95)") from None
        if not math.isfinite(v):
            raise BadInputError(f"malformed {what} {text!r}: {p!r} is not a finite number")
        vals.append(v)
    if not vals:
        raise BadInputError(f"malformed {what} {text!r}: empty")
    return tuple(vals)


def emit_json(obj: Any) -> None:
    """Print one whole JSON document on stdout and nothing else there (built and checked first)."""
    from ..jsondoc import dumps_strict

    text = dumps_strict(obj, default=_json_default)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def stderr_console() -> Any:
    """A rich Console on stderr, so stdout stays clean for --json."""
    from rich.console import Console

    return Console(stderr=True)


def stdout_console() -> Any:
    """A rich Console on stdout, for commands whose table is their output (pipe it, grep it)."""
    from rich.console import Console

    return Console()
