"""Measured densities of the weights and activations a SWAT layer actually kept."""

from __future__ import annotations

import torch


class DensityStats:
    """Running sums of per-step densities; tensors, so recording a step costs no host sync.

    A component that is not sparsified (sparsity 0) runs a dense kernel and counts as density 1.0;
    a sparsified one counts its non-zero entries (top-k keeps at most k, fewer when the tensor was
    already sparser, e.g. after a ReLU).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every recorded step (called at the start of each client-round)."""
        self.steps = 0
        self._w = torch.zeros((), dtype=torch.float64)
        self._a = torch.zeros((), dtype=torch.float64)

    def add(self, w_used: torch.Tensor, x_saved: torch.Tensor, w_sparse: bool, a_sparse: bool) -> None:
        """Record one training step's kept fractions."""
        with torch.no_grad():
            if self._w.device != w_used.device:  # accumulate where the layer runs (a GPU), never a cross-device add
                self._w, self._a = self._w.to(w_used.device), self._a.to(w_used.device)
            if w_sparse:
                self._w += torch.count_nonzero(w_used).double() / w_used.numel()
            else:
                self._w += 1.0
            if a_sparse:
                self._a += torch.count_nonzero(x_saved).double() / max(1, x_saved.numel())
            else:
                self._a += 1.0
        self.steps += 1

    def mean(self) -> dict[str, float] | None:
        """Mean {weight, activation} density since the last reset (None before any step)."""
        if self.steps == 0:
            return None
        return {"weight": float(self._w) / self.steps, "activation": float(self._a) / self.steps}
