"""The counted work of a published row's training step (needs torch; everything else does not).

Every quantity of a dense step (FLOPs and bytes per layer x phase) is affine in the batch size,
so each (model, optimizer) is counted at batch 1 and 2 on the meta device and a row's batch is
extrapolated; ``workload_direct`` counts a batch itself (tests compare the two).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..predict import StepRows
from .models import PUBLISHED_MODELS
from .rows import PublishedRow


def workload_direct(model: str, batch: int, optimizer: str) -> StepRows:
    """Count one training step of ``model`` at ``batch`` with the project's FLOP counter."""
    from ...analysis.workload import from_layers
    from ...flops import count_training_step

    factory, shape = PUBLISHED_MODELS[model]
    doc = count_training_step(factory(), shape, batch, optimizer=optimizer).to_json()
    return StepRows.of_profile(from_layers(doc))


@lru_cache(maxsize=None)
def _base(model: str, optimizer: str) -> tuple[StepRows, StepRows]:
    return workload_direct(model, 1, optimizer), workload_direct(model, 2, optimizer)


def workload(model: str, batch: int, optimizer: str) -> StepRows:
    """The step's rows at ``batch``: batch-1 counts plus (batch - 1) x the per-sample increment."""
    one, two = _base(model, optimizer)
    if one.op_class != two.op_class:
        return workload_direct(model, batch, optimizer)
    k = float(batch - 1)
    return StepRows(one.op_class, one.flops + k * (two.flops - one.flops),
                    one.nbytes + k * (two.nbytes - one.nbytes), one.kernels.copy())


def row_workload(row: PublishedRow) -> StepRows:
    """The work of a row's step."""
    return workload(row.model, row.batch, row.optimizer)


def describe(rows: StepRows) -> str:
    """A short label of a step's size."""
    f = rows.total_flops
    return f"{f / 1e9:.3g} GFLOP, {int(np.count_nonzero(rows.kernels))} ops"
