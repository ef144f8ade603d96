"""What one SWAT top-k mask costs, as the kernel behaves: a function of the tensor size n AND the kept count k.

``sparse.masks.topk_sparsify`` (the only mask code; weights every ``mask_every`` steps, the saved
input activation every step) runs, per tensor of n elements keeping k = vocab.kept_count(n, d):
``abs`` (n), ``torch.topk(sorted=False)`` -- on CPU a copy of n (value, index) pairs and
``std::nth_element`` (introselect), on GPU a radix select --, ``zeros`` (n), ``mask[idx] = True``
(an index scatter of k entries), ``t * mask`` (n); then the density statistics
(``sparse.stats``) ``count_nonzero`` of the masked tensor (n, data-dependent branches).

Two rows per sparsified layer, each with its own op class (its own fitted rate):

* ``topk``: the selection, in expected comparisons of quickselect (Knuth, TAOCP vol. 3, 5.3.3:
  Hoare's FIND needs ``2n + 2k ln(n/k) + 2(n-k) ln(n/(n-k))`` comparisons on average)::

      C(n, k) = n * (2 + 2 H(k/n)),   H(p) = -p ln p - (1-p) ln(1-p)   (entropy in nats)

  so 2n at k -> 0 or n, 3.39n at k = n/2; the element passes (abs, copy, zeros, multiply) are
  linear in n and are carried by the same fitted rate.
* ``topk_kept``: k -- the work per kept entry: writing its value and index, the index scatter into
  the mask, and the branch mispredictions of ``count_nonzero`` over a random zero pattern
  (measured with torch.profiler on a ResNet-18 SWAT step: ``index_put`` 17.0 vs 4.4 ms and
  ``count_nonzero`` 72.8 vs 24.4 ms at density 0.5 vs 0.1; see docs/calibration.md). The
  mispredictions go with min(k, n - k), so the count is exact for d <= 0.5 (SWAT's range) and
  an over-count above.

Counts are comparisons and entries, not FLOPs: they stay out of the FLOP totals.
"""

from __future__ import annotations

import math

from ..vocab import kept_count


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
    k = kept_count(n, density)
    return selection_comparisons(n, k), k
