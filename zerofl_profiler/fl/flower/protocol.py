"""The names both sides of the Flower app agree on (record keys, config keys, error codes).

Kept free of flwr so the server, the client and the tests can share them without importing it.
"""

from __future__ import annotations

# RecordDict keys
GLOBAL_ARRAYS = "global"  # server -> client: the dense global model (ArrayRecord)
TRAIN_CONFIG = "config"  # server -> client: ConfigRecord below
UPLOAD_ARRAYS = "upload"  # client -> server: the encoded upload, indices + values per layer
UPLOAD_META = "upload-meta"  # client -> server: ConfigRecord describing the upload arrays
METRICS = "metrics"  # client -> server: numeric leaves of the trace record
RECORD = "record"  # client -> server: ConfigRecord {"skeleton": JSON of the rest}
NODE_INFO = "node"  # query reply: ConfigRecord {"partition-id", "num-partitions"}

# ConfigRecord keys of a train instruction
RUN_CONFIG = "run-config"  # the RunConfig as TOML text
ROUND = "round"
CLIENT_ID = "client-id"
RUN_ID = "run-id"
ATTRIBUTION = "energy-attribution"  # "shared" when clients run concurrently on one counter
THREADS = "torch-threads"

# Node config keys (flower-supernode --node-config, set by the simulation runtime)
PARTITION_ID = "partition-id"
NUM_PARTITIONS = "num-partitions"

# Error codes in a client's error reply (Flower's own codes are small; ours start at 900)
ERR_CLIENT_FAILED = 901  # train_client raised or the client diverged
ERR_WRONG_PARTITION = 902  # the node holds another partition than the server asked for
ERR_NO_REPLY = 903  # no reply within the round timeout (set by the server)
ERR_NO_NODE = 904  # no SuperNode holds the sampled partition (set by the server)
