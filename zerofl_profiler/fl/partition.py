"""Split a training set across clients: LDA (Dirichlet over labels) as in ZeroFL, or IID.

Partitions are lists of sorted int64 index arrays into the training set, one per client; they
are disjoint, cover every sample, give every client at least one sample, and depend only on
(labels, num_clients, alpha, seed).

LDA follows Hsu et al. 2019 ("Measuring the effects of non-identical data distribution for
federated visual classification"), the scheme ZeroFL cites, in the form of Flower's
``create_lda_partitions`` (``flwr.dataset.utils.common`` in older flwr releases): clients hold
equal shares (sizes differ by at most one here); each client k draws a label mix
q_k ~ Dirichlet(alpha * C * p) (p = the data set's class frequencies, so on balanced data every
class gets concentration alpha) and fills its share one sample at a time by drawing a class from
q_k; an exhausted class is removed from every mix and the mixes renormalised.
alpha = 1.0 is ZeroFL's non-IID setting; alpha = 1000 is close to IID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import BadInputError


def _check(labels: np.ndarray | Sequence[int], num_clients: int) -> np.ndarray:
    """Labels as int64 and a client count that can give everyone a sample."""
    y = np.asarray(labels)
    if y.ndim != 1 or (len(y) and not np.issubdtype(y.dtype, np.integer)):
        raise BadInputError("labels must be a 1-D integer array")
    if int(num_clients) < 1:
        raise BadInputError(f"number of clients must be >= 1, got {num_clients}")
    if int(num_clients) > len(y):
        raise BadInputError(f"{num_clients} clients but only {len(y)} training samples: every "
                            "client needs at least one")
    return y.astype(np.int64, copy=False)


def _shares(n: int, num_clients: int) -> np.ndarray:
    """Equal client sizes; the first n % num_clients clients take one extra sample."""
    sizes = np.full(num_clients, n // num_clients, dtype=np.int64)
    sizes[: n % num_clients] += 1
    return sizes


def iid_partition(labels: np.ndarray | Sequence[int], num_clients: int, seed: int = 0,
                  **_: Any) -> list[np.ndarray]:
    """Uniformly random equal shares: the IID baseline the LDA split is compared against."""
    y = _check(labels, num_clients)
    order = np.random.default_rng(seed).permutation(len(y))
    bounds = np.concatenate([[0], np.cumsum(_shares(len(y), int(num_clients)))])
    return [np.sort(order[bounds[k]:bounds[k + 1]]) for k in range(int(num_clients))]


def lda_partition(labels: np.ndarray | Sequence[int], num_clients: int, alpha: float = 1.0,
                  seed: int = 0, **_: Any) -> list[np.ndarray]:
    """Label-skewed shares with Dirichlet(alpha) label mixes per client (see module docstring)."""
    y = _check(labels, num_clients)
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise BadInputError(f"alpha must be a number, got {alpha!r}") from None
    if not np.isfinite(alpha) or alpha <= 0:
        raise BadInputError(f"LDA alpha must be > 0, got {alpha}")
    k = int(num_clients)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    conc = alpha * len(classes) * counts / counts.sum()
    mix = rng.dirichlet(conc, size=k)  # (clients, classes)
    # Shuffle each class's pool once; clients pop from its front.
    pools = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    taken = np.zeros(len(classes), dtype=np.int64)
    remaining = counts.astype(np.int64).copy()
    sizes = _shares(len(y), k)
    picks: list[list[int]] = [[] for _ in range(k)]
    cdf = np.cumsum(mix, axis=1)
    u = rng.random(int(sizes.max()) * k)
    step = 0
    for slot in range(int(sizes.max())):  # round-robin, one sample per client per pass
        for client in range(k):
            if slot >= sizes[client]:
                continue
            row = cdf[client]
            c = int(np.searchsorted(row, u[step] * row[-1], side="right"))
            step += 1
            if c >= len(classes) or remaining[c] == 0:  # float rounding at the top end
                c = int(np.flatnonzero(mix[client] > 0)[-1])
            picks[client].append(int(pools[c][taken[c]]))
            taken[c] += 1
            remaining[c] -= 1
            if remaining[c] == 0:  # class exhausted: remove it from every mix, renormalise
                mix[:, c] = 0.0
                empty = mix.sum(axis=1) <= 0
                if empty.any() and remaining.any():  # clients whose classes all ran out
                    mix[empty] = remaining / remaining.sum()  # draw from what is left
                cdf = np.cumsum(mix, axis=1)
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in picks]


PARTITIONS: dict[str, Callable[..., list[np.ndarray]]] = {
    "lda": lda_partition,
    "iid": iid_partition,
}


def make_partition(kind: str, labels: np.ndarray | Sequence[int], num_clients: int, *,
                   alpha: float = 1.0, seed: int = 0) -> list[np.ndarray]:
    """Registry front door, so engines pick a partitioner by the name in the config."""
    try:
        fn = PARTITIONS[kind]
    except KeyError:
        raise BadInputError(f"unknown partition {kind!r}; known: {', '.join(PARTITIONS)}") from None
    return fn(labels, num_clients, alpha=alpha, seed=seed)


@dataclass(frozen=True, eq=False)
class PartitionStats:
    """Per-client sizes and label histograms, recorded so a run says how skewed its data was."""

    sizes: np.ndarray  # (clients,)
    label_hist: np.ndarray  # (clients, classes)

    @property
    def label_mix(self) -> np.ndarray:
        """Per-client label distribution (rows sum to 1)."""
        return self.label_hist / self.sizes[:, None]

    def mean_tv_distance(self) -> float:
        """Mean total-variation distance of client label mixes from the global mix (0 = IID)."""
        glob = self.label_hist.sum(axis=0) / self.sizes.sum()
        return float(0.5 * np.abs(self.label_mix - glob).sum(axis=1).mean())

    def to_json(self) -> dict[str, Any]:
        """Plain lists for config/trace files."""
        return {"sizes": [int(s) for s in self.sizes],
                "label_hist": [[int(v) for v in row] for row in self.label_hist],
                "mean_tv_distance": round(self.mean_tv_distance(), 6)}


def partition_stats(labels: np.ndarray | Sequence[int], parts: Sequence[np.ndarray],
                    num_classes: int | None = None) -> PartitionStats:
    """Sizes and label histograms of a partition (``num_classes`` defaults to max label + 1)."""
    y = np.asarray(labels, dtype=np.int64)
    c = int(num_classes) if num_classes is not None else int(y.max()) + 1
    hist = np.stack([np.bincount(y[np.asarray(p, dtype=np.int64)], minlength=c) for p in parts])
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    return PartitionStats(sizes, hist)
