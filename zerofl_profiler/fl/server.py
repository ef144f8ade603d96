"""Server-side evaluation of the global model: sparse (top-k weights, as ZeroFL evaluates), dense, or both.

The dense evaluation runs the same weights without the top-k masks, which shows how far a
sparse-trained model depends on being evaluated sparse.
"""

from __future__ import annotations

import copy

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import RunConfig
from .data import ArrayDataset
from .accelerator import device_batches
from .worker import Worker, get_worker, load_numpy_state, run_device


@dataclass(frozen=True)
class Evaluation:
    """Test accuracy and mean loss of the model(s) one round evaluated; None where not evaluated."""

    accuracy_sparse: float | None = None
    loss_sparse: float | None = None
    accuracy_dense: float | None = None
    loss_dense: float | None = None

    @property
    def accuracy(self) -> float | None:
        """The headline accuracy: the sparse model's when it was evaluated (ZeroFL's), else the dense one's."""
        return self.accuracy_sparse if self.accuracy_sparse is not None else self.accuracy_dense

    @property
    def loss(self) -> float | None:
        """The loss of the same model as ``accuracy``."""
        return self.loss_sparse if self.accuracy_sparse is not None else self.loss_dense


#: eval mode -> the models it evaluates: 'sparse' is the SWAT model (top-k weights), 'dense' its unmasked twin
_MODE_MODELS: dict[str, tuple[str, ...]] = {"sparse": ("sparse",), "dense": ("dense",), "both": ("sparse", "dense")}


def _model(worker: Worker, kind: str, device: str) -> nn.Module:
    """The SWAT model, or a dense copy on the run's device (the twin itself stays on the CPU for the counter)."""
    if kind == "sparse":
        return worker.model
    key = (id(worker), device)
    dense = _DENSE.get(key)
    if dense is None or dense[0] is not worker:
        _DENSE.clear()
        dense = _DENSE[key] = (worker, copy.deepcopy(worker.dense_twin).to(device))
    return dense[1]


_DENSE: dict[tuple[int, str], tuple[Worker, nn.Module]] = {}


def _score(model: nn.Module, test_data: ArrayDataset, batch_size: int, device: str) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of one model on the held-out split, on the run's device."""
    model.eval()
    correct: int | torch.Tensor = 0
    loss_sum: float | torch.Tensor = 0.0
    with torch.no_grad():
        for xb, yb in device_batches(test_data, batch_size, None, device):
            logits = model(xb)
            loss_sum = loss_sum + F.cross_entropy(logits, yb, reduction="sum").double()
            correct = correct + (logits.argmax(1) == yb).sum()
    n = max(1, len(test_data))
    return int(correct) / n, float(loss_sum) / n


def evaluate_modes(model_state: Mapping[str, np.ndarray | torch.Tensor], test_data: ArrayDataset, cfg: RunConfig) -> Evaluation:
    """Evaluate the global model as ``cfg.eval_mode`` says (the sparse model, the dense one, or both)."""
    worker = get_worker(cfg, test_data.input_shape, test_data.num_classes)
    out: dict[str, float] = {}
    for kind in _MODE_MODELS[cfg.eval_mode]:
        model = _model(worker, kind, run_device(cfg))
        load_numpy_state(model, model_state)
        out[f"accuracy_{kind}"], out[f"loss_{kind}"] = _score(model, test_data, cfg.eval_batch_size, run_device(cfg))
    return Evaluation(**out)

