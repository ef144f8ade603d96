"""The trace-less what-if in one call: build a model, count it, size its uploads, price one round.

``compare_model(ModelWorkload(...), costing)`` does what `zerofl-profile compare` shows: for each
sparsity, the model's step is counted (FLOPs and bytes per layer), its upload and download are
sized from the real state dict, and costing prices one round on every device (and mix). This is
the one module of analysis that needs torch (it builds the model); the pricing stays in
hardware_models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadInputError, check_fraction
from ..hardware_models.results import CompareResult
from ..hardware_models.rounds import compare_workload
from ..hardware_models.selection import Costing
from .workload import UPLOADS, upload_bytes


@dataclass(frozen=True)
class ModelWorkload:
    """What one client-round trains and sends: model, batch, steps, sparsities, upload format."""

    model: str = "resnet18"
    input_shape: tuple[int, ...] | None = None
    num_classes: int = 10
    batch_size: int = 32
    steps: int = 10
    sparsities: tuple[float, ...] = (0.0, 0.9, 0.95)
    upload: str = "dense"
    encoding: str = "csr"
    mask_ratio: float = 0.0

    def check(self) -> "ModelWorkload":
        """Validate the plain fields (exit 2 on a bad one) before anything is built."""
        for s in self.sparsities:
            check_fraction("sparsity", s)
        if not self.sparsities:
            raise BadInputError("--sparsity: give at least one value")
        if self.mask_ratio < 0 or self.mask_ratio > 1:
            raise BadInputError(f"--mask-ratio must be in [0, 1], got {self.mask_ratio}")
        if self.batch_size <= 0 or self.steps <= 0:
            raise BadInputError("--batch-size and --steps must be positive")
        if self.upload not in UPLOADS:
            raise BadInputError(f"unknown --upload {self.upload!r}; known: {', '.join(UPLOADS)}")
        return self


def _count(w: ModelWorkload) -> dict[str, Any]:
    """Count the model once per sparsity and size its upload/download (the torch part)."""
    from ..flops import count_from_trace, sparsifiable_layers, trace_model
    from ..models import build_model, default_input_shape

    shape = tuple(w.input_shape) if w.input_shape else tuple(default_input_shape(w.model))
    net = build_model(w.model, w.num_classes, shape)
    trace = trace_model(net, shape, w.batch_size, name=w.model)
    reports = {s: count_from_trace(trace, weight_sparsity=s, num_classes=w.num_classes).to_json()
               for s in w.sparsities}
    tensors = {k: (int(v.numel()), int(v.element_size())) for k, v in net.state_dict().items()
               if v.is_floating_point()}
    gemm = frozenset(f"{n}.weight" for n in sparsifiable_layers(net))
    down = upload_bytes(tensors, gemm, sparsity=0.0)
    up = {s: upload_bytes(tensors, gemm, sparsity=s, upload=w.upload, encoding=w.encoding,
                          mask_ratio=w.mask_ratio) for s in w.sparsities}
    return {"reports": reports, "bytes_down": float(down), "bytes_up": up, "input_shape": shape}


def compare_model(workload: ModelWorkload, costing: Costing, *, clients: int | None = None,
                  seed: int = 0) -> CompareResult:
    """One round per sparsity of ``workload`` on every device of ``costing`` (and its mix)."""
    w = workload.check()
    work = _count(w)
    return compare_workload(work["reports"], w.steps, costing, bytes_down=work["bytes_down"],
                            bytes_up=work["bytes_up"], bytes_up_dense=work["bytes_down"], clients=clients, seed=seed,
                            workload={"model": w.model, "input_shape": list(work["input_shape"]),
                                      "batch_size": w.batch_size, "steps": w.steps, "upload": w.upload,
                                      "encoding": w.encoding, "mask_ratio": w.mask_ratio})
