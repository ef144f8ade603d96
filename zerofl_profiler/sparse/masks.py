"""Top-k masks by magnitude: the one place that decides which entries a sparse layer keeps."""

from __future__ import annotations

import torch

from ..vocab import kept_count as keep_count  # the one kept-count rule (vocab.kept_count)


def topk_mask(t: torch.Tensor, density: float) -> torch.Tensor:
    """Boolean mask of the top-k entries of |t| over the whole tensor (unstructured)."""
    flat = t.detach().reshape(-1)
    k = keep_count(flat.numel(), density)
    if k >= flat.numel():
        return torch.ones_like(t, dtype=torch.bool)
    idx = torch.topk(flat.abs(), k, sorted=False).indices
    mask = torch.zeros(flat.numel(), dtype=torch.bool, device=t.device)
    mask[idx] = True
    return mask.view_as(t)


def topk_sparsify(t: torch.Tensor, density: float) -> torch.Tensor:
    """Zero all but the top-k entries of |t| over the whole tensor (the batch included)."""
    if density >= 1.0:
        return t
    return t * topk_mask(t, density)
