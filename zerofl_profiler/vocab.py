"""The project's names, each defined once (no torch): everything else imports these tuples.

A registry elsewhere (datasets, aggregators, encodings, uploads, FLOP formulas, device files)
is keyed by one of these tuples; tests/test_vocab.py checks that each registry matches its tuple
and that no other module spells one of these lists itself.
"""

from __future__ import annotations

#: Data sets the engine can load (registry: fl.data.DATASETS).
DATASETS = ("digits", "cifar10", "synthetic")
#: Data sets read from --data-dir (nothing is downloaded).
DATA_DIR_DATASETS = ("cifar10",)
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

__all__ = ["DATASETS", "DATA_DIR_DATASETS", "AGGREGATIONS", "PARTITIONS", "UPLOADS", "ENCODINGS",
           "CLIENT_ERROR_POLICIES", "ENGINES"]
