"""Server-side evaluation of the global model: sparse (top-k weights, as ZeroFL evaluates), dense, or both.

The dense evaluation runs the same weights without the top-k masks, which shows how far a
sparse-trained model depends on being evaluated sparse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import RunConfig
from .data import ArrayDataset
from .worker import Worker, get_worker, load_numpy_state


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


def _model(worker: Worker, kind: str) -> nn.Module:
    return worker.model if kind == "sparse" else worker.dense_twin


def _score(model: nn.Module, test_data: ArrayDataset, batch_size: int) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of one model on the held-out split."""
    model.eval()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for xb, yb in test_data.batches(batch_size):
            logits = model(torch.from_numpy(xb))
            y = torch.from_numpy(yb)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    n = max(1, len(test_data))
    return correct / n, loss_sum / n


def evaluate_modes(model_state: Mapping[str, np.ndarray], test_data: ArrayDataset, cfg: RunConfig) -> Evaluation:
    """Evaluate the global model as ``cfg.eval_mode`` says (the sparse model, the dense one, or both)."""
    worker = get_worker(cfg, test_data.input_shape, test_data.num_classes)
    out: dict[str, float] = {}
    for kind in _MODE_MODELS[cfg.eval_mode]:
        model = _model(worker, kind)
        load_numpy_state(model, model_state)
        out[f"accuracy_{kind}"], out[f"loss_{kind}"] = _score(model, test_data, cfg.eval_batch_size)
    return Evaluation(**out)

