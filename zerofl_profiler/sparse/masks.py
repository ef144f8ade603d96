"""Top-k by magnitude: the one place that decides which entries a sparse layer keeps.

The rule: of a tensor of n entries at density d, keep the k = ``keep_count(n, d)`` entries of
largest |t| over the whole tensor (round to nearest, at least one). SWAT's reference code rounds
up (``ceil``) and keeps every entry tied with the k-th value, so its kept count can exceed its
k; here exactly k are kept: entries tied with the k-th largest value v are kept in flat index
order, lowest first, until k are kept. (Ties at v = 0 change no value: the kept zeros are zeros.)

How v is found (exact either way; only the work differs): small tensors and accelerators run one
``kthvalue``/``topk`` over all of |t|. Large CPU tensors bound v by a quantile of a fixed-size
random sample of |t|, taken a wide margin (5 standard deviations) on the far side of the
estimate, extract the entries on v's side of that bound (one compare, one ``masked_select``:
about k entries at SWAT's densities) and resolve v exactly by a ``kthvalue`` of those; when the
bound misses v (a rare unlucky sample) the whole tensor is used. The sample
only decides how much work that takes, never which entries are kept, and it is drawn from the
caller's ``torch.Generator`` so the global RNG is untouched. Keeping is then one threshold op
(``hardshrink`` at the float just below v keeps exactly |t| >= v), not an index scatter; only a
tie at v > 0 builds an index-cut mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..vocab import kept_count

#: Below this many entries one exact ``kthvalue`` over the tensor costs less than the sampled path.
SAMPLED_MIN_NUMEL = 1 << 16
#: Entries of |t| sampled to estimate the threshold.
SAMPLE_SIZE = 16384
#: Margin of the sampled bound, in standard deviations of the sample quantile (a miss costs a full pass).
SAMPLE_SIGMAS = 5.0


#: Entries kept at a density: the one rule of the package (vocab.kept_count), under its historical name.
keep_count = kept_count


@dataclass(frozen=True)
class Selection:
    """What one sparsification kept: |t| >= threshold (ties cut to ``kept``); ``nonzero`` of those are != 0."""

    threshold: float
    kept: int
    nonzero: int
    numel: int

    @property
    def density(self) -> float:
        """Fraction of the tensor's entries that are kept and non-zero (what a sparse kernel would see)."""
        return self.nonzero / self.numel if self.numel else 1.0


def _kth_exact(a: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th largest value of the flat non-negative ``a``, over all of it."""
    if a.device.type == "cpu":
        return a.kthvalue(a.numel() - k + 1).values
    return a.topk(k, sorted=False).values.min()


def _kth_sampled(a: torch.Tensor, k: int, generator: torch.Generator | None) -> tuple[torch.Tensor, int] | None:
    """(v, #(a >= v)) resolved among the entries on v's side of a sampled bound; None when the bound misses."""
    n, s = a.numel(), SAMPLE_SIZE
    sample = a[torch.randint(n, (s,), generator=generator, device=a.device)]
    p = k / n
    margin = SAMPLE_SIGMAS * math.sqrt(s * p * (1.0 - p)) + 2.0
    centre = s * (1.0 - p)  # where v sits among the sample's values, ascending
    if p <= 0.5:  # few kept: v is the k-th largest of the entries at or above a lower bound
        rank = int(math.floor(centre - margin))
        if rank < 0:
            return None
        upper = a[a >= sample.kthvalue(rank + 1).values]
        m = upper.numel()
        if m < k:
            return None
        v = upper.kthvalue(m - k + 1).values
        return v, int(torch.count_nonzero(upper >= v))
    rank = int(math.ceil(centre + margin))  # most kept: v is the r-th smallest of those at or below an upper bound
    if rank >= s:
        return None
    lower = a[a <= sample.kthvalue(rank + 1).values]
    r = n - k + 1
    if lower.numel() < r:
        return None
    v = lower.kthvalue(r).values
    return v, n - int(torch.count_nonzero(lower < v))


def kth_largest(t: torch.Tensor, k: int, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, int | None]:
    """(v, #(|t| >= v) or None when not counted yet): the k-th largest |t| over the whole tensor (1 <= k < numel)."""
    a = t.detach().reshape(-1).abs()
    if a.numel() >= SAMPLED_MIN_NUMEL and a.device.type == "cpu":
        found = _kth_sampled(a, k, generator)
        if found is not None:
            return found
    return _kth_exact(a, k), None


def _keep_at_least(t: torch.Tensor, v: float) -> torch.Tensor:
    """t where |t| >= v (v > 0), else 0: one hardshrink at the float just below v."""
    if t.dtype == torch.float32:
        return F.hardshrink(t, float(np.nextafter(np.float32(v), np.float32(-np.inf))))
    if t.dtype == torch.float64:
        return F.hardshrink(t, math.nextafter(v, -math.inf))
    return t * (t.abs() >= v)


def _tie_cut_mask(t: torch.Tensor, v: torch.Tensor, k: int, ge: int) -> torch.Tensor:
    """Exactly k kept: every |t| > v, then the entries tied at v with the lowest flat indices."""
    a = t.detach().reshape(-1).abs()
    mask = a >= v
    tied = torch.nonzero(a == v).reshape(-1)
    mask[tied[k - (ge - tied.numel()):]] = False
    return mask.view_as(t)


def keep_topk(t: torch.Tensor, density: float, generator: torch.Generator | None = None
              ) -> tuple[torch.Tensor, Selection]:
    """The exact top-k of |t| with every other entry zeroed, and what was kept."""
    n = t.numel()
    k = keep_count(n, density)
    if k >= n:
        return t, Selection(0.0, n, int(torch.count_nonzero(t)), n)
    v, ge = kth_largest(t, k, generator)
    vf = float(v)
    if vf <= 0.0:  # every non-zero is kept, the rest of the k are zeros: the tensor is unchanged
        return t, Selection(vf, k, int(torch.count_nonzero(t)), n)
    out = _keep_at_least(t, vf)
    if ge is None:
        ge = int(torch.count_nonzero(out))  # v > 0: the kept entries are exactly the non-zeros
    if ge > k:
        out = t * _tie_cut_mask(t, v, k, ge)
    return out, Selection(vf, k, k, n)


def topk_mask(t: torch.Tensor, density: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean mask of exactly the top-k entries of |t| over the whole tensor (unstructured)."""
    n = t.numel()
    k = keep_count(n, density)
    if k >= n:
        return torch.ones_like(t, dtype=torch.bool)
    v, ge = kth_largest(t, k, generator)
    mask = t.detach().abs() >= v
    if ge is None:
        ge = int(torch.count_nonzero(mask))
    return _tie_cut_mask(t, v, k, ge) if ge > k else mask


def topk_sparsify(t: torch.Tensor, density: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero all but the top-k entries of |t| over the whole tensor (the batch included)."""
    if density >= 1.0:
        return t
    return keep_topk(t, density, generator)[0]


def threshold_sparsify(t: torch.Tensor, threshold: float) -> tuple[torch.Tensor, Selection]:
    """Keep |t| >= threshold (every tie kept, as SWAT's frozen threshold does): the kept count drifts."""
    n = t.numel()
    if threshold <= 0.0:
        return t, Selection(threshold, n, int(torch.count_nonzero(t)), n)
    out = _keep_at_least(t, threshold)
    kept = int(torch.count_nonzero(out))  # |t| >= threshold > 0: every kept entry is non-zero
    return out, Selection(threshold, kept, kept, n)


def benchmark_pieces() -> dict[str, Callable[..., object]]:
    """The SWAT step's per-layer pieces, for benchmarks/bench_sparse.py's breakdown."""
    g = torch.Generator().manual_seed(0)
    from .stats import DensityStats

    st = DensityStats()
    sel = Selection(1.0, 1, 1, 2)
    return {
        "weight mask": lambda w, x, dw, da: keep_topk(w, dw, g),
        "activation mask": lambda w, x, dw, da: keep_topk(x, da, g),
        "statistics": lambda w, x, dw, da: st.add(sel, sel),
    }
