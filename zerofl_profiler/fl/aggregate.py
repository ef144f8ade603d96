"""Server-side aggregation of client uploads, on torch tensors on the run's device (both engines call it).

A client's contribution is what the server decoded from its upload: per tensor, the sent values
(full shape, 0 where nothing was sent), a mask of the sent entries (None = every entry sent),
whether the values are trained *weights* or *differences* to the global model, and the client's
sample count n_k (n = sum of n_k over the clients aggregated this round).

Aggregators (registry ``AGGREGATORS``):

``fedavg`` (default, as ZeroFL)
    weight uploads: ``w_{t+1} = sum_k n_k/n * v_k`` with unsent entries counted as ZERO, as the
    paper does -- an entry only a few clients sent shrinks towards 0 by their share of samples.
    difference uploads: ``w_{t+1} = w_t + sum_k n_k/n * d_k`` (unsent differences are 0, i.e.
    "no change"), so an entry nobody sent keeps its global value.
``masked-mean``
    each entry is averaged only over the clients that sent it, weighted by their samples:
    weights ``w_{t+1}[i] = sum_{k sent i} n_k v_k[i] / sum_{k sent i} n_k``; differences
    ``w_{t+1}[i] = w_t[i] + (same mean of d_k[i])``. An entry nobody sent keeps ``w_t[i]``. This
    removes fedavg's shrinkage of rarely sent weights and its dilution of rarely sent changes.

With dense uploads (every mask None) both reduce to plain FedAvg. Integer tensors (BatchNorm's
``num_batches_tracked``) are averaged the same way, rounded to the nearest integer, and keep
their dtype; float tensors keep their dtype too. Sums accumulate in float64 (float32 on Apple MPS,
which has no float64), in the same order and at the same precisions as a numpy implementation of
these rules (``tests/fl/test_aggregate.py`` keeps one as the reference); numpy inputs are accepted
and land on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from ..errors import BadInputError, unknown_name
from .worker import as_tensor

VALUE_KINDS = ("weights", "diffs")


Tensor = torch.Tensor


@dataclass(frozen=True, eq=False)
class Contribution:
    """One client's decoded upload and its sample count: the only input aggregation needs."""

    values: Mapping[str, Tensor]  # full shape; 0 where not sent
    masks: Mapping[str, Tensor | None]  # bool, same shape; None = all sent
    values_are: Mapping[str, str]  # per tensor: "weights" or "diffs"
    num_samples: int

    def on(self, device: torch.device) -> "Contribution":
        """The same contribution with every tensor on ``device`` (numpy arrays wrapped)."""
        return Contribution({k: as_tensor(v, device) for k, v in self.values.items()},
                            {k: None if m is None else as_tensor(m, device) for k, m in self.masks.items()},
                            self.values_are, self.num_samples)


def _check(global_state: Mapping[str, Tensor], contributions: Sequence[Contribution]) -> float:
    """Same keys and shapes everywhere, positive samples; returns n (total samples)."""
    if not contributions:
        raise BadInputError("nothing to aggregate: no client contributions")
    keys = set(global_state)
    for i, c in enumerate(contributions):
        if set(c.values) != keys:
            missing, extra = sorted(keys - set(c.values)), sorted(set(c.values) - keys)
            raise BadInputError(f"contribution {i}: tensors differ from the global model "
                                f"(missing {missing[:3]}, unexpected {extra[:3]})")
        if c.num_samples <= 0:
            raise BadInputError(f"contribution {i}: num_samples must be > 0, got {c.num_samples}")
        for k, v in c.values.items():
            if v.shape != global_state[k].shape:
                raise BadInputError(f"contribution {i}: {k} has shape {tuple(v.shape)}, global "
                                    f"{tuple(global_state[k].shape)}")
            m = c.masks.get(k)
            if m is not None and m.shape != v.shape:
                raise BadInputError(f"contribution {i}: mask of {k} has shape {tuple(m.shape)}, values {tuple(v.shape)}")
            if c.values_are.get(k, "weights") not in VALUE_KINDS:
                raise BadInputError(f"contribution {i}: {k} values are {c.values_are.get(k)!r}")
    return float(sum(c.num_samples for c in contributions))


def _values_are(key: str, contributions: Sequence[Contribution]) -> str:
    """Every client must send a tensor the same way, or the sum would mix weights and changes."""
    kinds = {c.values_are.get(key, "weights") for c in contributions}
    if len(kinds) != 1:
        raise BadInputError(f"{key}: clients sent both weights and differences; cannot aggregate")
    return kinds.pop()


def _acc_dtype(device: torch.device) -> torch.dtype:
    """float64 accumulators, except on MPS (no float64 there)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _cast(result: Tensor, like: Tensor) -> Tensor:
    """Back to the global tensor's dtype; integers are rounded (half to even, as np.rint), not truncated."""
    if not like.is_floating_point() and not like.is_complex():
        return torch.round(result).to(like.dtype)
    return result.to(like.dtype)


def _fedavg_tensor(key: str, w: Tensor, contributions: Sequence[Contribution], n: float) -> Tensor:
    """Sample-weighted sum with unsent entries as zero (weights) or as no change (diffs)."""
    acc_dtype = _acc_dtype(w.device)
    acc = torch.zeros(w.shape, dtype=acc_dtype, device=w.device)
    for c in contributions:
        v = c.values[key]  # unsent entries are 0 in values
        # a float tensor is scaled at its own precision, an integer one in the accumulator's (as numpy does)
        acc += (c.num_samples / n) * (v if v.is_floating_point() else v.to(acc_dtype))
    if _values_are(key, contributions) == "diffs":
        acc += w
    return acc


def _masked_mean_tensor(key: str, w: Tensor, contributions: Sequence[Contribution], n: float) -> Tensor:
    """Sample-weighted mean over only the clients that sent each entry; unsent by all: w_t."""
    acc_dtype = _acc_dtype(w.device)
    num = torch.zeros(w.shape, dtype=acc_dtype, device=w.device)
    den = torch.zeros(w.shape, dtype=acc_dtype, device=w.device)
    zero = torch.zeros((), dtype=acc_dtype, device=w.device)
    for c in contributions:
        m = c.masks.get(key)
        v = c.num_samples * c.values[key].to(acc_dtype)
        if m is None:
            num += v
            den += c.num_samples
        else:
            sent = m.to(torch.bool)
            num += torch.where(sent, v, zero)
            den += c.num_samples * sent
    have = den > 0
    mean = torch.where(have, num / torch.where(have, den, torch.ones_like(den)), zero)
    base = w.to(acc_dtype)
    if _values_are(key, contributions) == "diffs":
        return base + mean  # mean is 0 where nobody sent
    return torch.where(have, mean, base)


TensorRule = Callable[[str, Tensor, Sequence[Contribution], float], Tensor]

AGGREGATORS: dict[str, TensorRule] = {
    "fedavg": _fedavg_tensor,
    "masked-mean": _masked_mean_tensor,
}
DEFAULT_AGGREGATOR = "fedavg"


def aggregate(global_state: Mapping[str, Tensor | np.ndarray], contributions: Sequence[Contribution],
              method: str = DEFAULT_AGGREGATOR) -> dict[str, Tensor]:
    """The next global model from this round's contributions, on the global state's device (rules above)."""
    try:
        rule = AGGREGATORS[method]
    except KeyError:
        raise BadInputError(unknown_name("aggregator", method, AGGREGATORS)) from None
    first = next(iter(global_state.values()), None)
    device = first.device if isinstance(first, Tensor) else torch.device("cpu")
    glob = {k: as_tensor(w, device) for k, w in global_state.items()}
    contribs = [c.on(device) for c in contributions]
    n = _check(glob, contribs)
    return {k: _cast(rule(k, w, contribs, n), w) for k, w in glob.items()}
