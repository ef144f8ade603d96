"""Measured densities of the weights and activations a SWAT layer actually kept, and its top-k work."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class MaskWork:
    """Top-k selections one SWAT layer ran in a measurement period: ((tensor numel, times), ...) per tensor.

    Steps that reuse frozen positions or a frozen threshold run no selection and are not in here;
    the FLOP counter costs top-k work from these counts, not from the step count.
    """

    weight: tuple[tuple[int, int], ...]
    activation: tuple[tuple[int, int], ...]
    weight_density: float
    activation_density: float


class DensityStats:
    """Running sums of per-step kept fractions, from the counts the masks already computed (no extra pass).

    A component that is not sparsified (sparsity 0) runs a dense kernel and counts as density 1.0;
    a sparsified one counts its kept non-zero entries (top-k keeps exactly k, fewer non-zero when
    the tensor was already sparser, e.g. after a ReLU; a frozen threshold keeps however many pass).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every recorded step (called at the start of each client-round)."""
        self.steps = 0
        self._w = 0.0
        self._a = 0.0
        self.weight_selections: Counter[int] = Counter()
        self.activation_selections: Counter[int] = Counter()

    def add(self, weight: float, activation: float) -> None:
        """Record one training step's kept fractions (1.0 for a component that ran dense)."""
        self._w += weight
        self._a += activation
        self.steps += 1

    def mean(self) -> dict[str, float] | None:
        """Mean {weight, activation} density since the last reset (None before any step)."""
        if self.steps == 0:
            return None
        return {"weight": self._w / self.steps, "activation": self._a / self.steps}

    def work(self, weight_density: float, activation_density: float) -> MaskWork:
        """The top-k selections recorded since the last reset."""
        return MaskWork(tuple(sorted(self.weight_selections.items())),
                        tuple(sorted(self.activation_selections.items())), weight_density, activation_density)
