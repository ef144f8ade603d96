"""Which layers SWAT sparsifies and which stay dense (shared with ``sparse.sparsify``)."""

from __future__ import annotations

from torch import nn

#: Module types whose GEMMs SWAT sparsifies (subclasses included).
SPARSIFIABLE_TYPES: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)


def sparsifiable_layers(model: nn.Module) -> list[str]:
    """Qualified names of the Conv2d and Linear modules, in registration order."""
    return [name for name, m in model.named_modules() if isinstance(m, SPARSIFIABLE_TYPES)]


def default_dense_layers(model: nn.Module) -> list[str]:
    """The first Conv2d stays dense, as in ZeroFL's ResNet-18 (first Linear if there is no conv).

    "First" is registration order, which is execution order for the built-in models.
    """
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not names:
        names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    return names[:1]
