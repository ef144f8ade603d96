"""The project's names, each defined once (no torch): everything else imports these tuples.

A registry elsewhere (datasets, aggregators, encodings, uploads, FLOP formulas, device files)
is keyed by one of these tuples; tests/test_vocab.py checks that each registry matches its tuple
and that no other module spells one of these lists itself.
"""

from __future__ import annotations

import math

# ----------------------------------------------------------------------------- FLOPs and costing
#: Phases of one training step as the FLOP counter splits a row, in table order; ``update`` is
#: non-zero only for the ``<optimizer>`` row.
STEP_PHASES = ("forward", "backward_input", "backward_weight", "update")
#: FLOP phases of a GEMM layer (conv/linear), in the order every table uses.
GEMM_PHASES = ("forward", "backward_input", "backward_weight")
#: Phases of a trace FLOP block that the cost model prices: GEMM phases, then non-GEMM work.
TRACE_PHASES = GEMM_PHASES + ("elementwise", "optimizer")
#: Keys of a FLOP block in a trace record (``total`` = sum of TRACE_PHASES). A block may also
#: carry ``topk`` (mask selection, counted as comparisons), reported apart and NOT in ``total``.
FLOP_KEYS = TRACE_PHASES + ("total",)
#: What a row's count means, so a cost model can pick an efficiency per class; the order is the
#: column order of every per-class array (device efficiency tables, calibration fits).
#: ``gemm_grouped`` is a grouped/depthwise convolution (little reuse per weight, often
#: memory-bound); ``pool`` max/avg pooling; ``norm`` batch/layer/group norm; ``topk`` the mask
#: selection (comparisons); ``topk_kept`` the work per kept entry.
OP_CLASSES = ("gemm", "gemm_grouped", "elementwise", "pool", "norm", "topk", "topk_kept", "optimizer")
#: The classes whose rows are GEMM layers (SWAT sparsifies them; trace phases forward/backward_*).
GEMM_CLASSES = ("gemm", "gemm_grouped")
#: The top-k mask rows: sparse-only work, counted as operations, never FLOPs.
TOPK_CLASSES = ("topk", "topk_kept")

# ----------------------------------------------------------------------------- energy
#: Where a measured energy figure came from; ``none`` = nothing measured.
MEASURED_SOURCES = ("nvml", "rapl", "codecarbon", "none")
#: An estimate is labelled as such and lives in ``energy_estimate``, never in ``energy``.
ESTIMATE_SOURCES = ("estimate",)
#: Every energy source a record may name.
ENERGY_SOURCES = MEASURED_SOURCES + ESTIMATE_SOURCES

# ----------------------------------------------------------------------------- federated runs

#: Data sets the engine can load (registry: fl.data.DATASETS).
DATASETS = ("digits", "cifar10", "synthetic")
#: Data sets read from --data-dir (nothing is downloaded).
DATA_DIR_DATASETS = ("cifar10",)
#: Data set -> the training augmentation it takes by default (fl.augment.AUGMENTATIONS); others take none.
DATASET_AUGMENTATIONS = {"cifar10": "crop4-flip"}
#: Server aggregation rules (registry: fl.aggregate.AGGREGATORS).
AGGREGATIONS = ("fedavg", "masked-mean")
#: Client partitioning schemes (registry: fl.partition.PARTITIONS).
PARTITIONS = ("lda", "iid")
#: What a client uploads (registry: fl.uploads.UPLOAD_VARIANTS).
UPLOADS = ("dense", "topk-weights", "diff-topk-weights", "topk-diff")
#: How an upload or a sparse tensor is put on the wire (registry: encoding.ENCODERS).
ENCODINGS = ("csr", "bitmask", "dense")
#: What a run does when one client fails.
CLIENT_ERROR_POLICIES = ("stop", "skip")
#: Federated engines.
ENGINES = ("inprocess", "flower")



def kept_count(numel: int, density: float) -> int:
    """Entries a top-k at ``density`` keeps: density x numel rounded half up, at least 1, at most numel.

    One rule for the SWAT masks, the counter's bytes and the costing's upload sizes, so a count
    never disagrees with what training really kept. At least one entry so a layer never goes
    empty; half up (not Python's banker's ``round``) so 2.5 entries keep 3, as a mask would.
    """
    if numel <= 0:
        return 0
    return min(numel, max(1, int(math.floor(density * numel + 0.5))))


#: How SWAT's products run (masked dense, or real sparse kernels) and what shape its weight masks take.
SPARSE_KERNEL_MODES = ("off", "auto", "csr", "semi-structured")
MASK_STRUCTURES = ("unstructured", "2:4")
#: What SWAT freezes between mask refreshes (sparse.layers.SCHEDULES implements each; see docs/engine.md).
MASK_SCHEDULES = ("fixed-positions", "swat-threshold")

__all__ = ["SPARSE_KERNEL_MODES", "MASK_STRUCTURES", "MASK_SCHEDULES", "STEP_PHASES", "GEMM_PHASES", "TRACE_PHASES", "FLOP_KEYS", "OP_CLASSES", "GEMM_CLASSES", "TOPK_CLASSES",
           "MEASURED_SOURCES", "ESTIMATE_SOURCES", "ENERGY_SOURCES", "kept_count",
           "DATASETS", "DATA_DIR_DATASETS", "DATASET_AUGMENTATIONS", "AGGREGATIONS", "PARTITIONS", "UPLOADS", "ENCODINGS",
           "CLIENT_ERROR_POLICIES", "ENGINES"]
