"""Server-side evaluation with the sparse model, as ZeroFL evaluates (top-k weights of the global model)."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..config import RunConfig
from .data import ArrayDataset
from .accelerator import device_batches
from .worker import get_worker, load_numpy_state, run_device


def evaluate(model_state: Mapping[str, np.ndarray], test_data: ArrayDataset, cfg: RunConfig) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of the global model on the held-out split."""
    worker = get_worker(cfg, test_data.input_shape, test_data.num_classes)
    model = worker.model
    load_numpy_state(model, model_state)
    model.eval()
    device = run_device(cfg)
    correct: int | torch.Tensor = 0
    loss_sum: float | torch.Tensor = 0.0
    with torch.no_grad():
        for xb, yb in device_batches(test_data, cfg.eval_batch_size, None, device):
            logits = model(xb)
            loss_sum = loss_sum + F.cross_entropy(logits, yb, reduction="sum").double()
            correct = correct + (logits.argmax(1) == yb).sum()
    n = max(1, len(test_data))
    return int(correct) / n, float(loss_sum) / n
