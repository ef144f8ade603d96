"""Torch-side helpers that act on a RunConfig (the config itself stays torch-free)."""

from __future__ import annotations

from ..config import RunConfig
from ..sparse.config import SparseConfig


def apply_threads(cfg: RunConfig) -> int:
    """Set torch's intra-op threads for training (0 keeps torch's default); returns the old value.

    One thread is the default: the models that fit a phone-sized budget gain nothing from
    intra-op parallelism, and several runs (pytest -n 2, sweeps) then never oversubscribe cores.
    """
    import torch

    old = torch.get_num_threads()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    return old


def sparse_config(cfg: RunConfig) -> SparseConfig:
    """The SparseConfig for sparsify()."""
    return SparseConfig(cfg.weight_sparsity, cfg.activation_sparsity, cfg.dense_layers, cfg.mask_every,
                        kernels=cfg.sparse_kernels, mask_structure=cfg.mask_structure,
                        mask_schedule=cfg.mask_schedule)


__all__ = ["apply_threads", "augmentation", "sparse_config"]


def augmentation(cfg: RunConfig):  # type: ignore[no-untyped-def]
    """The data set's training augmentation (fl.augment) when the run has it on, else None."""
    if not cfg.augment:
        return None
    from ..vocab import DATASET_AUGMENTATIONS
    from .augment import AUGMENTATIONS

    return AUGMENTATIONS[DATASET_AUGMENTATIONS[cfg.dataset]]
