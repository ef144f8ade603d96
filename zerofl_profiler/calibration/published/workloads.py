"""The counted work of a published row's training step (needs torch; everything else does not).

Each (model, optimizer) is counted once, at batch 1, with the project's FLOP counter into the
cost model's own step profile (``hardware_models.workload.from_layers``); a row's batch is that
profile's ``at_batch``, the same batch scaling `estimate` applies to a run. ``workload_direct``
counts a batch itself (tests compare the two).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...hardware_models.workload import StepProfile, StepRows, from_layers
from .models import PUBLISHED_MODELS
from .rows import PublishedRow


#: What ``zero_grad`` dispatched in the sources' PyTorch (every GPU row's source ran PyTorch < 2.0,
#: whose ``zero_grad()`` zeroes each gradient in place: Zeus's Dockerfile at its first commit
#: 9703b31 installs ``pytorch==1.10.1``; DeepLearningExamples' ConvNets Dockerfile builds on
#: ``nvcr.io/nvidia/pytorch:21.03-py3``, whose README says its results were obtained in the
#: pytorch-21.03 NGC container). The phone rows' runtime (MNN) is priced per row, so it does not matter there.
GRAD_RESET = "zero"


def count_doc(model: str, batch: int, optimizer: str) -> dict:
    """The `flops --json` document of one training step of ``model`` at ``batch``."""
    from ...flops import count_training_step

    factory, shape = PUBLISHED_MODELS[model]
    return count_training_step(factory(), shape, batch, optimizer=optimizer, grad_reset=GRAD_RESET).to_json()


def workload_direct(model: str, batch: int, optimizer: str) -> StepRows:
    """The step's rows counted at ``batch`` itself."""
    return from_layers(count_doc(model, batch, optimizer)).at_batch(batch)


@lru_cache(maxsize=None)
def step_profile(model: str, optimizer: str) -> StepProfile:
    """The step profile of ``model`` counted at batch 1 (cached per model and optimizer)."""
    return from_layers(count_doc(model, 1, optimizer))


def workload(model: str, batch: int, optimizer: str) -> StepRows:
    """The step's rows at ``batch``: the batch-1 profile scaled as the cost model scales a run's batches."""
    return step_profile(model, optimizer).at_batch(batch)


def row_workload(row: PublishedRow) -> StepRows:
    """The work of a row's step."""
    return workload(row.model, row.batch, row.optimizer)


def describe(rows: StepRows) -> str:
    """A short label of a step's size."""
    f = float(rows.flops_dense.sum())
    return f"{f / 1e9:.3g} GFLOP, {int(np.count_nonzero(rows.kernels))} rows, {int(rows.row_launches.sum())} aten ops"
