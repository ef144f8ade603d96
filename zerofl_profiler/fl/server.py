"""Server-side evaluation with the sparse model, as ZeroFL evaluates (top-k weights of the global model)."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..config import RunConfig
from .data import ArrayDataset
from .worker import get_worker, load_numpy_state


def evaluate(model_state: Mapping[str, np.ndarray], test_data: ArrayDataset, cfg: RunConfig) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of the global model on the held-out split."""
    worker = get_worker(cfg, test_data.input_shape, test_data.num_classes)
    model = worker.model
    load_numpy_state(model, model_state)
    model.eval()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for xb, yb in test_data.batches(cfg.eval_batch_size):
            logits = model(torch.from_numpy(xb))
            y = torch.from_numpy(yb)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    n = max(1, len(test_data))
    return correct / n, loss_sum / n
