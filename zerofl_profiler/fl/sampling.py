"""Which K of N clients train in a round: a pure function of (seed, round), so resume redraws it."""

from __future__ import annotations

import numpy as np

from ..errors import BadInputError


def sample_clients(seed: int, round: int, num_clients: int, k: int) -> list[int]:
    """K distinct client ids for this round, sorted; independent of every earlier round's draw."""
    if not 1 <= k <= num_clients:
        raise BadInputError(f"cannot sample {k} of {num_clients} clients")
    rng = np.random.default_rng([int(seed), int(round), 0x5A4D])
    return sorted(int(i) for i in rng.choice(num_clients, size=k, replace=False))
