"""Real training steps (forward + backward + SGD, the SWAT path when sparse) and their counted work.

Shared by the calibration micro-steps and ``benchmarks/fidelity.py``, so both time exactly the
same code and price it through the same ``flops --json`` document the cost model reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..analysis.workload import from_layers
from ..hardware_models.cost import density_of
from .cases import BenchCase

OPTIMIZER = "sgd"  # plain SGD (no momentum): what the counter's "sgd" row counts
NUM_CLASSES = 10


@dataclass(frozen=True)
class StepSpec:
    """One training-step workload: a model factory, its input shape, batch size and SWAT sparsity."""

    name: str
    factory: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    batch_size: int
    sparsity: float = 0.0


def layers_doc(spec: StepSpec) -> dict[str, Any]:
    """The `flops --json` document of one step of ``spec`` (what `compare` and `estimate` price)."""
    from ..flops import count_training_step

    model = spec.factory()
    rep = count_training_step(model, spec.input_shape, spec.batch_size, weight_sparsity=spec.sparsity,
                              optimizer=OPTIMIZER, num_classes=NUM_CLASSES)
    return rep.to_json()


def make_step(spec: StepSpec, *, device: str = "cpu", seed: int = 0) -> Callable[[], None]:
    """A closure running one real training step of ``spec`` (SWAT layers when sparsity > 0)."""
    from ..sparse import SparseConfig, sparsify

    torch.manual_seed(seed)
    model = spec.factory()
    if spec.sparsity > 0:
        sparsify(model, SparseConfig(weight_sparsity=spec.sparsity))
    model = model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(spec.batch_size, *spec.input_shape, device=device)
    y = torch.randint(0, NUM_CLASSES, (spec.batch_size,), device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def case_from_doc(name: str, doc: dict[str, Any], time_s: float = 0.0,
                  samples_s: tuple[float, ...] = ()) -> BenchCase:
    """The rows of one step as the cost model prices them (per-row densities, top-k rows if sparse)."""
    step = from_layers(doc)
    sparse = bool(np.sum(step.flops_sparse) < np.sum(step.flops_dense))
    flops, nbytes, cls = step.flops_dense, step.nbytes, step.row_class
    dens = density_of(step.flops_sparse, step.flops_dense)
    kernels = float(step.kernels.sum())
    if sparse and len(step.topk_flops):
        k = len(step.topk_flops)
        flops = np.concatenate([flops, step.topk_flops])
        nbytes = np.concatenate([nbytes, step.topk_bytes])
        cls = np.concatenate([cls, step.topk_classes])
        dens = np.concatenate([dens, np.ones(k)])
        kernels += float(step.topk_kernels.sum())
    return BenchCase(name, "sparse_step" if sparse else "step", flops.astype(np.float64), nbytes.astype(np.float64),
                     cls.astype(np.int64), kernels, float(time_s), dens if sparse else np.zeros(0),
                     tuple(samples_s))
