"""What one SWAT top-k mask costs, as a function of the tensor size n AND the kept count k.

``sparse.masks.keep_topk`` (the only selection code) runs once per *selection*, i.e. only on the
steps that compute a mask (weights every ``mask_every`` steps; the saved input every step under
the ``fixed-positions`` schedule, every ``mask_every`` steps under ``swat-threshold``). Per tensor
of n elements keeping k = keep_count(n, d) it runs ``abs`` (n), one quickselect that splits off
the k largest (numpy's introselect on the CPU, ``topk`` on accelerators), a max over the n - k
below (the tie check), and keeps the entries with one threshold op (n). The density statistics
come from the counts the selection already has (no extra pass). Steps that reuse frozen
positions or a frozen threshold run a threshold op or a multiply (n) and no selection; they get
no top-k row.

Two rows per sparsified layer, each with its own op class (its own fitted rate):

* ``topk``: the selection, in expected comparisons of quickselect (Knuth, TAOCP vol. 3, 5.3.3:
  Hoare's FIND needs ``2n + 2k ln(n/k) + 2(n-k) ln(n/(n-k))`` comparisons on average)::

      C(n, k) = n * (2 + 2 H(k/n)),   H(p) = -p ln p - (1-p) ln(1-p)   (entropy in nats)

  so 2n at k -> 0 or n, 3.39n at k = n/2; the element passes (abs, compares, multiply) are
  linear in n and are carried by the same fitted rate.
* ``topk_kept``: k -- the work per kept entry (writing the selected set, resolving it).

These counts are a work model, not an instruction count of the kernel: each row's rate is fitted
per op class to timings of the real kernel (``calibration.bench``). Counts are comparisons and
entries, not FLOPs: they stay out of the FLOP totals.
"""

from __future__ import annotations

import math
from typing import Iterable


def kept(n: int, density: float) -> int:
    """Entries a top-k keeps (as sparse.masks.keep_count: round to nearest, at least one)."""
    if n <= 0:
        return 0
    return min(n, max(1, int(math.floor(density * n + 0.5))))


def entropy_nats(p: float) -> float:
    """H(p) = -p ln p - (1-p) ln(1-p), 0 at p in {0, 1}."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -p * math.log(p) - (1.0 - p) * math.log(1.0 - p)


def selection_comparisons(n: int, k: int) -> int:
    """Expected quickselect comparisons to split the k largest of n: n (2 + 2 H(k/n)); 0 if nothing is dropped."""
    if n <= 0 or k >= n:
        return 0
    return int(round(n * (2.0 + 2.0 * entropy_nats(k / n))))


def topk_counts(n: int, density: float) -> tuple[int, int]:
    """(selection comparisons, kept entries) of one top-k mask of a tensor of n elements at ``density``."""
    if n <= 0 or density >= 1.0:
        return 0, 0
    k = kept(n, density)
    return selection_comparisons(n, k), k


def selections_count(selections: Iterable[tuple[int, int]], density: float) -> int:
    """Top-k counts (comparisons + kept) of the selections a layer really ran: ((tensor numel, times), ...)."""
    return sum(times * sum(topk_counts(n, density)) for n, times in selections)
