"""Server-side aggregation of client uploads (pure numpy; the Flower adapter calls the same code).

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
their dtype; float tensors keep their dtype too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import BadInputError, unknown_name

VALUE_KINDS = ("weights", "diffs")


@dataclass(frozen=True, eq=False)
class Contribution:
    """One client's decoded upload and its sample count: the only input aggregation needs."""

    values: Mapping[str, np.ndarray]  # full shape; 0 where not sent
    masks: Mapping[str, np.ndarray | None]  # bool, same shape; None = all sent
    values_are: Mapping[str, str]  # per tensor: "weights" or "diffs"
    num_samples: int


def _check(global_state: Mapping[str, np.ndarray], contributions: Sequence[Contribution]) -> float:
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
                raise BadInputError(f"contribution {i}: {k} has shape {v.shape}, global "
                                    f"{global_state[k].shape}")
            m = c.masks.get(k)
            if m is not None and np.shape(m) != v.shape:
                raise BadInputError(f"contribution {i}: mask of {k} has shape {np.shape(m)}, values {v.shape}")
            if c.values_are.get(k, "weights") not in VALUE_KINDS:
                raise BadInputError(f"contribution {i}: {k} values are {c.values_are.get(k)!r}")
    return float(sum(c.num_samples for c in contributions))


def _values_are(key: str, contributions: Sequence[Contribution]) -> str:
    """Every client must send a tensor the same way, or the sum would mix weights and changes."""
    kinds = {c.values_are.get(key, "weights") for c in contributions}
    if len(kinds) != 1:
        raise BadInputError(f"{key}: clients sent both weights and differences; cannot aggregate")
    return kinds.pop()


def _cast(result: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Back to the global tensor's dtype; integers are rounded, not truncated."""
    if np.issubdtype(like.dtype, np.integer) or like.dtype == np.bool_:
        return np.rint(result).astype(like.dtype)
    return result.astype(like.dtype)


def _fedavg_tensor(key: str, w: np.ndarray, contributions: Sequence[Contribution], n: float
                   ) -> np.ndarray:
    """Sample-weighted sum with unsent entries as zero (weights) or as no change (diffs)."""
    acc = np.zeros(w.shape, dtype=np.float64)
    for c in contributions:
        acc += (c.num_samples / n) * c.values[key]  # unsent entries are 0 in values
    if _values_are(key, contributions) == "diffs":
        acc += w
    return acc


def _masked_mean_tensor(key: str, w: np.ndarray, contributions: Sequence[Contribution],
                        n: float) -> np.ndarray:
    """Sample-weighted mean over only the clients that sent each entry; unsent by all: w_t."""
    num = np.zeros(w.shape, dtype=np.float64)
    den = np.zeros(w.shape, dtype=np.float64)
    for c in contributions:
        m = c.masks.get(key)
        sent = np.ones(w.shape, dtype=bool) if m is None else np.asarray(m, dtype=bool)
        num += np.where(sent, c.num_samples * c.values[key].astype(np.float64), 0.0)
        den += c.num_samples * sent
    have = den > 0
    mean = np.divide(num, den, out=np.zeros_like(num), where=have)
    base = w.astype(np.float64)
    if _values_are(key, contributions) == "diffs":
        return base + mean  # mean is 0 where nobody sent
    return np.where(have, mean, base)


TensorRule = Callable[[str, np.ndarray, Sequence[Contribution], float], np.ndarray]

AGGREGATORS: dict[str, TensorRule] = {
    "fedavg": _fedavg_tensor,
    "masked-mean": _masked_mean_tensor,
}
DEFAULT_AGGREGATOR = "fedavg"


def aggregate(global_state: Mapping[str, np.ndarray], contributions: Sequence[Contribution],
              method: str = DEFAULT_AGGREGATOR) -> dict[str, np.ndarray]:
    """The next global model from this round's contributions (see module docstring for rules)."""
    try:
        rule = AGGREGATORS[method]
    except KeyError:
        raise BadInputError(unknown_name("aggregator", method, AGGREGATORS)) from None
    n = _check(global_state, contributions)
    return {k: _cast(rule(k, np.asarray(w), contributions, n), np.asarray(w))
            for k, w in global_state.items()}
