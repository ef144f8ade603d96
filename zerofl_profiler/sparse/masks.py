"""Top-k masks by magnitude: the one place that decides which entries a sparse layer keeps.

The rule: of a tensor of n entries at density d, keep the k = ``keep_count(n, d)`` entries of
largest |t| over the whole tensor (round to nearest, at least one; SWAT's reference code rounds
up with ``ceil`` instead and keeps every entry tied with the k-th value, so its kept count can
exceed k). Here exactly k are kept: entries tied with the k-th largest value v are kept in flat
index order, lowest first, until k are kept.

How v is found (exact either way; only the work differs, see ``select``): small tensors and
accelerators run one ``kthvalue``/``topk`` over all of |t|. Large CPU tensors estimate v from a
fixed-size random sample of |t|, take the side of the estimate that holds the k-th value with a
wide margin (one compare and one ``masked_select``), and resolve v exactly by a ``kthvalue`` of
that small set; when the sample misses (the set does not contain the k-th value) it falls back
to the whole tensor. The sample only decides how much work that takes, never which entries are
kept, and it is drawn from the caller's own ``torch.Generator`` so the global RNG is untouched.
The mask is then one threshold compare, not an index scatter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

#: Below this many entries one exact ``kthvalue`` over the tensor costs less than the sampled path.
SAMPLED_MIN_NUMEL = 1 << 15
#: Entries of |t| sampled to estimate the threshold.
SAMPLE_SIZE = 4096
#: Half-width of the sampled band, in standard deviations of the sample quantile.
SAMPLE_SIGMAS = 5.0


def keep_count(numel: int, density: float) -> int:
    """Entries kept at a density: round to nearest, at least one, so a layer never goes empty."""
    if numel <= 0:
        return 0
    return min(numel, max(1, int(math.floor(density * numel + 0.5))))


@dataclass(frozen=True)
class Selection:
    """One top-k selection: keep |t| >= threshold (ties cut to exactly ``kept``); ``nonzero`` of them != 0."""

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


def _kth_sampled(a: torch.Tensor, k: int, generator: torch.Generator | None) -> tuple[torch.Tensor, int | None]:
    """(v, #(a >= v), or None when unknown): v resolved only inside the side of a sampled estimate that holds it."""
    n = a.numel()
    s = SAMPLE_SIZE
    sample = a[torch.randint(n, (s,), generator=generator, device=a.device)]
    p = k / n
    margin = SAMPLE_SIGMAS * math.sqrt(s * p * (1.0 - p)) + 2.0
    centre = s * (1.0 - p)  # where v sits among the sample's values, ascending, counted from 0
    if p <= 0.5:  # few kept: resolve among the entries at or above a lower bound
        pos = int(math.floor(centre - margin))
        if pos >= 0:
            upper = a[a >= sample.kthvalue(pos + 1).values]
            m = upper.numel()
            if m >= k:
                v = upper.kthvalue(m - k + 1).values
                return v, int(torch.count_nonzero(upper >= v))
    else:  # most kept: resolve among the entries at or below an upper bound
        pos = int(math.ceil(centre + margin))
        if pos < s:
            lower = a[a <= sample.kthvalue(pos + 1).values]
            r = n - k + 1  # v is the r-th smallest
            if lower.numel() >= r:
                v = lower.kthvalue(r).values
                return v, n - int(torch.count_nonzero(lower < v))
    return _kth_exact(a, k), None


def select(t: torch.Tensor, density: float, generator: torch.Generator | None = None
           ) -> tuple[torch.Tensor | None, Selection]:
    """The exact top-k of |t| as (bool mask, or None when every entry is kept; the Selection)."""
    flat = t.detach().reshape(-1)
    n = flat.numel()
    k = keep_count(n, density)
    if k >= n:
        return None, Selection(0.0, n, int(torch.count_nonzero(flat)), n)
    a = flat.abs()
    ge: int | None = None
    if n >= SAMPLED_MIN_NUMEL and a.device.type == "cpu":
        v, ge = _kth_sampled(a, k, generator)
    else:
        v = _kth_exact(a, k)
    mask = a >= v
    if ge is None:
        ge = int(torch.count_nonzero(mask))
    vf = float(v)
    if ge > k:  # ties at v: keep the tied entries with the lowest flat indices
        tied = torch.nonzero(a == v).reshape(-1)
        mask[tied[k - (ge - tied.numel()):]] = False
    nonzero = k if vf > 0.0 else int(torch.count_nonzero(flat))
    return mask.view_as(t), Selection(vf, k, min(k, nonzero), n)


def topk_mask(t: torch.Tensor, density: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean mask of exactly the top-k entries of |t| over the whole tensor (unstructured)."""
    mask, _ = select(t, density, generator)
    return torch.ones_like(t, dtype=torch.bool) if mask is None else mask


def topk_sparsify(t: torch.Tensor, density: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero all but the top-k entries of |t| over the whole tensor (the batch included)."""
    if density >= 1.0:
        return t
    mask, _ = select(t, density, generator)
    return t if mask is None else t * mask


def threshold_sparsify(t: torch.Tensor, threshold: float) -> tuple[torch.Tensor, Selection]:
    """Keep |t| >= threshold (every tie kept, as SWAT's frozen threshold does): the kept count drifts."""
    n = t.numel()
    if threshold <= 0.0:
        return t, Selection(threshold, n, int(torch.count_nonzero(t)), n)
    mask = t.detach().abs() >= threshold
    kept = int(torch.count_nonzero(mask))
    return t * mask, Selection(threshold, kept, kept, n)


def benchmark_pieces() -> dict[str, Callable[..., object]]:
    """The SWAT step's per-layer pieces, for benchmarks/bench_sparse.py's breakdown."""
    g = torch.Generator().manual_seed(0)
    from .stats import DensityStats

    st = DensityStats()
    sel = Selection(1.0, 1, 1, 2)

    def weight(w: torch.Tensor, x: torch.Tensor, dw: float, da: float) -> object:
        mask, _ = select(w, dw, g)
        return w if mask is None else w * mask

    return {
        "weight mask": weight,
        "activation mask": lambda w, x, dw, da: topk_sparsify(x, da, g),
        "statistics": lambda w, x, dw, da: st.add(sel, sel),
    }
