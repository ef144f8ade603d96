"""Former home of the cost equations; kept as an import path.

The equations live in :mod:`.pricing` (roofline, sparse scaling, top-k, energy, communication),
the memory estimate in :mod:`.results`, the phase vocabulary in :mod:`.records`.
"""

from __future__ import annotations

from .pricing import (
    BITS_PER_BYTE,
    CommCost,
    DeviceArrays,
    RecordCosts,
    comm_cost,
    compute_energy,
    density_of,
    price_client_rounds,
    roofline,
    sparse_factor,
    utilisation,
)
from .records import PHASE_CLASS, PHASES
from .results import MemoryEstimate
from .workload import class_index

__all__ = ["BITS_PER_BYTE", "PHASES", "PHASE_CLASS", "CommCost", "DeviceArrays", "MemoryEstimate", "RecordCosts",
           "class_index", "comm_cost", "compute_energy", "density_of", "price_client_rounds", "roofline",
           "sparse_factor", "utilisation"]
