"""Upload sizes of a what-if client-round; the step profile itself lives in hardware_models.workload.

``upload_bytes`` sizes one client upload (GEMM weights top-k'd and encoded, the rest dense) the
way the engine uploads it. ``StepProfile``, ``from_layers`` and ``from_totals`` are re-exported
from :mod:`zerofl_profiler.hardware_models.workload` (their home) for older import paths.
"""

from __future__ import annotations

from typing import Mapping

from ..hardware_models.workload import (
    FP32_BYTES,
    GEMM_KINDS,
    OPTIMIZER_STATE,
    TOPK_BYTE_PASSES,
    TOPK_KERNELS_PER_TENSOR,
    TOPK_OPS_PER_ELEMENT,
    StepProfile,
    from_layers,
    from_totals,
)
from ..vocab import UPLOADS, kept_count

__all__ = ["FP32_BYTES", "GEMM_KINDS", "OPTIMIZER_STATE", "TOPK_BYTE_PASSES", "TOPK_KERNELS_PER_TENSOR",
           "TOPK_OPS_PER_ELEMENT", "UPLOADS", "StepProfile", "from_layers", "from_totals", "upload_bytes"]



def upload_bytes(tensors: Mapping[str, tuple[int, int]], gemm_weights: set[str] | frozenset[str], *,
                 sparsity: float, upload: str = "dense", encoding: str = "csr", mask_ratio: float = 0.0) -> int:
    """Bytes of one client upload: GEMM weights top-k'd and encoded, everything else dense.

    ``tensors`` maps a state name to (numel, bytes per element). The kept fraction of a GEMM
    weight is min(1, 1 - sparsity + mask_ratio), kept as ``vocab.kept_count`` rounds it: what the
    engine uploads (upload kinds: ``vocab.UPLOADS``).
    """
    from ..encoding import encoded_nbytes
    from ..errors import BadInputError, unknown_name

    if upload not in UPLOADS:
        raise BadInputError(unknown_name("upload", upload, UPLOADS))
    if upload == "dense" and mask_ratio:
        raise BadInputError("--mask-ratio only applies to top-k uploads, not --upload dense")
    keep = min(1.0, 1.0 - sparsity + mask_ratio)
    total = 0
    for name, (numel, elem) in tensors.items():
        if upload != "dense" and name in gemm_weights:
            nnz = kept_count(numel, keep)
            total += encoded_nbytes(numel, nnz, encoding, elem)
        else:
            total += numel * elem
    return int(total)
