"""The registry of built-in models: short name -> factory, default input shape and a one-liner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ..errors import BadInputError

Factory = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """A built-in model: how to build it and the input it is made for (C, H, W)."""

    name: str
    factory: Factory
    input_shape: tuple[int, ...]
    doc: str


MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, input_shape: tuple[int, ...], doc: str) -> Callable[[Factory], Factory]:
    """Decorator: register ``factory(num_classes, input_shape)`` under a short name (no duplicates)."""

    def deco(factory: Factory) -> Factory:
        if name in MODELS:
            raise BadInputError(f"model {name!r} is already registered")
        MODELS[name] = ModelEntry(name, factory, tuple(input_shape), doc)
        return factory

    return deco


def spatial_after(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output size of a conv/pool along one dimension (for sizing classifier heads)."""
    return (size + 2 * padding - kernel) // stride + 1


def check_input(name: str, input_shape: tuple[int, ...], min_hw: int) -> tuple[int, int, int]:
    """A (C, H, W) shape large enough for the model, else a one-line BadInputError."""
    if len(input_shape) != 3:
        raise BadInputError(f"{name} expects an input shape C,H,W, got {','.join(map(str, input_shape))}")
    c, h, w = (int(s) for s in input_shape)
    if min(h, w) < min_hw:
        raise BadInputError(f"{name} needs inputs of at least {min_hw}x{min_hw}, got {h}x{w}")
    return c, h, w
