"""zerofl-profiler: what on-device sparse federated training really costs.

Data flows one way: model -> FLOP/byte counts -> client workload -> device model -> estimates
-> trace -> report/plot. Nothing heavy runs on import.
"""

__version__ = "0.1.0"
