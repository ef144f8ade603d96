"""Top-k by magnitude: the one place that decides which entries a sparse layer keeps.

The rule: of a tensor of n entries at density d, keep the k = ``keep_count(n, d)`` entries of
largest |t| over the whole tensor (round to nearest, at least one). SWAT's reference code rounds
up (``ceil``) and keeps every entry tied with the k-th value, so its kept count can exceed its
k; here exactly k are kept: entries tied with the k-th largest value v are kept in flat index
order, lowest first, until k are kept. (Ties at v = 0 change no value: the kept zeros are zeros.)

How v is found (exact and deterministic: the same v and tie count as a full sort): on the CPU,
below ``BRACKET_FROM`` entries, one introselect over a copy of |t| (numpy's in-place
``partition``), measured 3-10x faster than torch's ``kthvalue`` or ``topk`` at every size a SWAT
layer sees; the max of the part below v then says whether any dropped entry ties with v. From
``BRACKET_FROM`` up, a sample at fixed positions (a function of n only) brackets v, one chunked
pass counts the entries above the bracket and gathers the few % inside it, and only those are
partitioned (``_kth_bracketed``); a bracket that misses v falls back to the full introselect.
The bracket's worth is introselect's slow case: on real post-ReLU ResNet-18 inputs of 1-2M
entries a whole-tensor ``partition`` took 45-100 ms on some layers (1.5-5 ms on the rest; the same
data shuffled: 1-2.6 ms), the bracket 1.2-2.6 ms on all of them (``bench_sparse.py --selection``).
Accelerators run one ``topk``.
Keeping is one threshold op (``hardshrink`` at the float just below v keeps exactly |t| >= v),
not an index scatter; a tie at v > 0 then zeroes the last tied positions.
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..vocab import kept_count

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


#: float dtype -> (struct formats of the value and of its bits, bit shift to the dtype, bits dtype, bits of -0.0)
_FLOAT_BITS = {
    torch.float64: ("<d", "<Q", 0, np.int64, -(1 << 63)),
    torch.float32: ("<f", "<I", 0, np.int32, -(1 << 31)),
    torch.float16: ("<e", "<H", 0, np.int16, -(1 << 15)),
    torch.bfloat16: ("<f", "<I", 16, np.int16, -(1 << 15)),  # bfloat16 = the top half of a float32
}


def _count_bits(t: torch.Tensor, signed_zeros: bool) -> int | None:
    """Entries of a CPU float tensor whose bit pattern is non-zero (less the -0.0s where they may occur); None off the CPU.

    numpy counts integer bit patterns in one vectorised pass: measured 20-40x cheaper than
    ``torch.count_nonzero`` from 64K entries up (6 us vs 290 us at 65536, 0.3 ms vs 11 ms at 2M; 1 thread).
    """
    spec = _FLOAT_BITS.get(t.dtype)
    if spec is None or not t.is_cpu:
        return None
    t = t.detach()
    bits = t.view(torch.int16).numpy() if t.dtype == torch.bfloat16 else t.numpy().view(spec[3])  # numpy has no bfloat16
    n = int(np.count_nonzero(bits))
    return n - int(np.count_nonzero(bits == spec[4])) if signed_zeros else n


def count_nonzero(t: torch.Tensor) -> int:
    """Non-zero entries of t (-0.0 counts as zero, NaN as non-zero, as in ``torch.count_nonzero``)."""
    n = _count_bits(t, signed_zeros=True)
    return int(torch.count_nonzero(t)) if n is None else n


def _count_kept(out: torch.Tensor) -> int:
    """Non-zero entries of a ``hardshrink`` output, whose zeros are all +0.0 (one pass, no -0.0 check)."""
    if out.dtype is torch.float32 and out.is_cpu and not out.requires_grad:  # the training step's case, inlined
        return int(np.count_nonzero(out.numpy().view(np.int32)))
    n = _count_bits(out, signed_zeros=False)
    return int(torch.count_nonzero(out)) if n is None else n


def _below(v: float, dtype: torch.dtype) -> float:
    """The largest value of ``dtype`` below v (v > 0, representable in ``dtype``): its predecessor bit pattern."""
    vfmt, ifmt, shift = _FLOAT_BITS[dtype][:3]
    bits = struct.unpack(ifmt, struct.pack(vfmt, v))[0] >> shift
    return struct.unpack(vfmt, struct.pack(ifmt, (bits - 1) << shift))[0]


#: From this many entries |t| is taken by torch (multi-threaded: about 2x numpy's at 2 threads on 2M
#: entries, equal at 1 thread); below it numpy's call costs less (1.1 us against 2.1 us at 4096).
_TORCH_ABS_FROM = 1 << 16

#: From this many entries v is bracketed from a sample before it is resolved (``_kth_bracketed``).
#: Below it one introselect of the whole tensor costs less, its slow cases included (``bench_sparse.py
#: --selection``, 1 thread: 0.32 against 0.45 ms at 262144 entries, equal at 524288, 1.5 against 1.2 ms
#: at 1M; the sample's fixed cost is about 0.1 ms).
BRACKET_FROM = 1 << 19
#: Sample size of the bracket, and its half-width in binomial standard deviations of the sampled rank
#: (a k-th value outside [lo, hi] at 4 sigma: about 6e-5 of calls by a normal approximation; those take the full path).
BRACKET_SAMPLE = 1 << 14
BRACKET_SIGMAS = 4.0


@functools.lru_cache(maxsize=64)
def _sample_positions(n: int) -> np.ndarray:
    """Fixed pseudo-random flat positions (with repeats) of the bracket's sample: a function of n only.

    They steer speed, never the result (which is the exact k-th value whatever the sample), so the
    selection stays a pure function of the tensor: nothing to restore on --resume.
    """
    return np.random.default_rng(n).integers(0, n, BRACKET_SAMPLE)


#: Entries per chunk of the bracket's passes: |x|, both compares and the gather stay in a core's L2
#: (2M entries, 1 thread: 1.8 ms in 64K chunks against 2.4 ms in whole-tensor passes).
BRACKET_CHUNK = 1 << 16


def _kth_bracketed(x: np.ndarray, k: int) -> tuple[float, int] | None:
    """(v, #(|x| >= v)) for the k-th largest |x| by a sampled bracket, or None where it cannot tell.

    The sample's order statistics around rank k/n give lo <= hi; one chunked pass over x counts the
    entries above hi (``not |x| <= hi``: NaN included, which the full introselect also ranks above
    every number) and gathers the band lo <= |x| <= hi, and only the band (a few % of x) is
    partitioned. When v lies outside the band (the counts say so) or lo is 0, None: the caller runs
    the full selection. Its cost hardly depends on the data's order, unlike a whole-tensor
    introselect (module docstring). x is only read.
    """
    n, m = x.size, BRACKET_SAMPLE
    r = k * m / n  # expected rank of v from the top of the sample
    half = BRACKET_SIGMAS * math.sqrt(r * (1.0 - k / n))
    r_lo, r_hi = math.ceil(r + half), math.floor(r - half)
    if r_lo >= m:
        return None
    s = np.abs(x[_sample_positions(n)])
    if r_hi >= 1:
        s.partition((m - r_lo, m - r_hi))
        lo, hi = s[m - r_lo], s[m - r_hi]
    else:  # v is near the top: the band runs to +inf
        s.partition(m - r_lo)
        lo, hi = s[m - r_lo], x.dtype.type(np.inf)
    if not lo > 0:  # zeros at the cut (or NaN): v may be 0, which the full path decides
        return None
    c = min(BRACKET_CHUNK, n)
    buf, le, ge = np.empty(c, x.dtype), np.empty(c, bool), np.empty(c, bool)
    not_above, parts = 0, []
    for start in range(0, n, c):
        chunk = x[start:start + c]
        size = chunk.size
        a, le_c, ge_c = buf[:size], le[:size], ge[:size]
        np.abs(chunk, out=a)
        np.less_equal(a, hi, out=le_c)
        not_above += int(np.count_nonzero(le_c))
        np.greater_equal(a, lo, out=ge_c)
        np.logical_and(le_c, ge_c, out=le_c)
        parts.append(a[le_c])
    above = n - not_above
    j = k - above  # v is the j-th largest of the band
    band = np.concatenate(parts)
    if not 0 < j <= band.size:
        return None
    i = band.size - j
    band.partition(i)
    v = band[i]
    return float(v), above + j + int(np.count_nonzero(band[:i] == v))


def _kth_cpu(t: torch.Tensor, k: int) -> tuple[float, int]:
    """(v, #(|t| >= v)): from a sampled bracket on large tensors, else by one in-place introselect of |t|.

    The full path counts the zeros first (one pass over the bits): with fewer than k non-zeros v is 0
    and no selection runs, and otherwise the split point lies among the non-zeros, away from the run
    of equal zeros (a post-ReLU input's half) where introselect measured up to 6x slower. The tie
    count comes from the part below v.
    """
    flat = t.detach().reshape(-1)
    if flat.dtype not in (torch.float32, torch.float64):
        flat = flat.float()  # float16/bfloat16 values are exact in float32
    n = flat.numel()
    if n >= BRACKET_FROM:
        found = _kth_bracketed(flat.numpy(), k)
        if found is not None:
            return found
    a = flat.abs().numpy() if n >= _TORCH_ABS_FROM else np.abs(flat.numpy())  # a fresh, writable copy either way
    if int(np.count_nonzero(a.view(np.int64 if a.dtype == np.float64 else np.int32))) < k:
        return 0.0, n
    i = n - k
    a.partition(i)
    v = a[i]
    below = a[:i]
    ge = k if below.max() < v else k + int(np.count_nonzero(below == v))
    return float(v), ge


def kth_largest(t: torch.Tensor, k: int) -> tuple[float, int | None]:
    """(v, #(|t| >= v), or None where not counted): the k-th largest |t| over the whole tensor (1 <= k < numel)."""
    if t.is_cpu:
        return _kth_cpu(t, k)
    return float(t.detach().reshape(-1).abs().topk(k, sorted=False).values.min()), None


def _keep_at_least(t: torch.Tensor, v: float) -> torch.Tensor:
    """t where |t| >= v (v > 0), else +0.0: one hardshrink at the value of t's dtype just below v."""
    return F.hardshrink(t, _below(v, t.dtype))


def _tied_to_drop(t: torch.Tensor, v: float, k: int, ge: int) -> torch.Tensor:
    """Flat indices of the ge - k entries tied at |t| = v with the highest flat indices: what keeping exactly k drops.

    On the CPU one numpy pass (compare, then the few positions): measured about 10x cheaper than a
    mask built by torch's ``nonzero`` and index-put (1.5 ms against 15 ms on 2M entries).
    """
    flat = t.detach().reshape(-1)
    if not flat.is_cpu:
        tied = torch.nonzero(flat.abs() == v).reshape(-1)
    else:
        if flat.dtype not in (torch.float32, torch.float64):
            flat = flat.float()  # exact for half types, as in the selection
        a = flat.numpy()
        tied = torch.from_numpy(np.flatnonzero(np.abs(a) == a.dtype.type(v)))
    return tied[tied.numel() - (ge - k):]


def keep_topk(t: torch.Tensor, density: float) -> tuple[torch.Tensor, Selection]:
    """The exact top-k of |t| with every other entry zeroed, and what was kept."""
    n = t.numel()
    k = keep_count(n, density)
    if k >= n:
        return t, Selection(0.0, n, count_nonzero(t), n)
    v, ge = kth_largest(t, k)
    if v <= 0.0:  # every non-zero is kept, the rest of the k are zeros: the tensor is unchanged
        return t, Selection(v, k, count_nonzero(t), n)
    out = _keep_at_least(t, v)
    if ge is None:
        ge = _count_kept(out)  # v > 0: the kept entries are exactly the non-zeros
    if ge > k:  # exactly k: the last tied entries (flat order) become +0.0 like every other dropped one
        out = out.contiguous()
        out.view(-1)[_tied_to_drop(t, v, k, ge)] = 0.0
    return out, Selection(v, k, k, n)


def topk_mask(t: torch.Tensor, density: float) -> torch.Tensor:
    """Boolean mask of exactly the top-k entries of |t| over the whole tensor (unstructured)."""
    n = t.numel()
    k = keep_count(n, density)
    if k >= n:
        return torch.ones_like(t, dtype=torch.bool)
    v, ge = kth_largest(t, k)
    mask = t.detach().abs() >= v
    if ge is None:
        ge = int(mask.sum())
    if ge > k:
        mask = mask.contiguous()
        mask.view(-1)[_tied_to_drop(t, v, k, ge)] = False
    return mask


def topk_sparsify(t: torch.Tensor, density: float) -> torch.Tensor:
    """Zero all but the top-k entries of |t| over the whole tensor (the batch included)."""
    if density >= 1.0:
        return t
    return keep_topk(t, density)[0]


def threshold_cut(threshold: float, dtype: torch.dtype) -> float:
    """The ``hardshrink`` cut that keeps exactly |t| >= threshold (> 0) in ``dtype``: its float just below."""
    return _below(threshold, dtype)


def threshold_keep(t: torch.Tensor, cut: float) -> tuple[torch.Tensor, int]:
    """t where |t| > cut, else +0.0, and how many entries were kept: one op and one count."""
    out = F.hardshrink(t, cut)
    return out, _count_kept(out)  # cut >= 0: every kept entry is non-zero


def threshold_sparsify(t: torch.Tensor, threshold: float) -> tuple[torch.Tensor, Selection]:
    """Keep |t| >= threshold (every tie kept, as SWAT's frozen threshold does): the kept count drifts."""
    n = t.numel()
    if threshold <= 0.0:
        return t, Selection(threshold, n, count_nonzero(t), n)
    out, kept = threshold_keep(t, threshold_cut(threshold, t.dtype))
    return out, Selection(threshold, kept, kept, n)
