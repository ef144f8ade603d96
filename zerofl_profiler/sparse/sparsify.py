"""Apply SWAT to a model and read back what it measured."""

from __future__ import annotations

from torch import nn

from ..errors import BadInputError
from .config import SparseConfig
from .kernels import choose_kernel
from .layers import SwatMixin, to_swat
from .stats import MaskWork


def resolve_dense_layers(model: nn.Module, cfg: SparseConfig) -> list[str]:
    """The layers kept dense: the configured list, else the FLOP counter's default (first conv)."""
    from ..flops import default_dense_layers, sparsifiable_layers

    candidates = list(sparsifiable_layers(model))
    if cfg.dense_layers is None:
        return list(default_dense_layers(model))
    unknown = [n for n in cfg.dense_layers if n not in candidates]
    if unknown:
        raise BadInputError(f"dense layer(s) {', '.join(unknown)} not in the model's conv/linear layers "
                            f"({', '.join(candidates[:8])}{', ...' if len(candidates) > 8 else ''})")
    return list(cfg.dense_layers)


def sparsify(model: nn.Module, cfg: SparseConfig | float, break_even_density: float | None = None) -> nn.Module:
    """Swap every sparsifiable layer except the dense ones for its SWAT twin, in place.

    ``cfg`` is a :class:`SparseConfig`, or a plain weight sparsity such as ``0.9`` (activations
    follow it, first conv dense), the short form a notebook reaches for first.
    ``break_even_density`` is the highest weight density at which the host's measured CSR kernel
    beats dense (from calibration); ``kernels="auto"`` uses CSR only at or below it.
    """
    from ..flops import sparsifiable_layers

    if isinstance(cfg, (int, float)) and not isinstance(cfg, bool):
        cfg = SparseConfig(weight_sparsity=float(cfg))
    elif not isinstance(cfg, SparseConfig):
        raise TypeError(f"sparsify(model, cfg): cfg must be a weight sparsity in [0, 1) such as 0.9, or "
                        f"SparseConfig(weight_sparsity=..., activation_sparsity=...); got {type(cfg).__name__}")

    dense = set(resolve_dense_layers(model, cfg))
    modules = dict(model.named_modules())
    for name in sparsifiable_layers(model):
        if name in dense:
            continue
        m = modules[name]
        kind = "conv2d" if isinstance(m, nn.Conv2d) else "linear"
        choice = choose_kernel(kind, m.weight, 1.0 - cfg.weight_sparsity, cfg.kernels, cfg.mask_structure,
                               getattr(m, "groups", 1), break_even_density)
        to_swat(name, m, cfg.weight_sparsity, cfg.act_sparsity, cfg.mask_every, cfg.mask_schedule,
                cfg.mask_structure, choice)
    model.sparse_config = cfg  # type: ignore[assignment]
    model.dense_layers = sorted(dense)  # type: ignore[assignment]
    return model


def swat_layers(model: nn.Module) -> dict[str, SwatMixin]:
    """The model's SWAT layers by qualified name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, SwatMixin)}


def collect_densities(model: nn.Module) -> dict[str, dict[str, float]]:
    """Mean measured {weight, activation} density per conv/linear layer since the last reset.

    Layers kept dense report 1.0 for both; a SWAT layer that ran no training step yet reports
    its configured densities.
    """
    out: dict[str, dict[str, float]] = {}
    for name, m in model.named_modules():
        if isinstance(m, SwatMixin):
            out[name] = m.density_stats.mean() or {"weight": m.weight_density, "activation": m.activation_density}
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            out[name] = {"weight": 1.0, "activation": 1.0}
    return out


def reset_density_stats(model: nn.Module) -> None:
    """Start a new measurement period (e.g. one client-round)."""
    for m in swat_layers(model).values():
        m.density_stats.reset()


def reset_masks(model: nn.Module) -> None:
    """Make every SWAT layer recompute its mask on the next step (new weights were loaded)."""
    for m in swat_layers(model).values():
        m.reset_mask()


def collect_mask_work(model: nn.Module) -> dict[str, MaskWork]:
    """The top-k selections each SWAT layer ran since the last reset (what the FLOP counter costs)."""
    return {n: m.density_stats.work(m.weight_density, m.activation_density) for n, m in swat_layers(model).items()}



def kernel_choices(model: nn.Module) -> dict[str, "KernelChoice"]:
    """Which path each SWAT layer runs on, and why (the run says so once)."""
    from .kernels import KernelChoice

    return {name: getattr(m, "sparse_kernel", KernelChoice("dense", "sparse kernels off"))
            for name, m in model.named_modules() if isinstance(m, SwatMixin)}


def kernel_summary(model: nn.Module) -> str:
    """The SWAT layers grouped by path and reason, in one line: `csr: a, b (why); dense: c (why)`."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, c in kernel_choices(model).items():
        groups.setdefault((c.kernel, c.reason), []).append(name)
    return "; ".join(f"{k}: {', '.join(names)} ({why})" for (k, why), names in groups.items()) or "no SWAT layers"
