"""Benchmark: re-cost 10^6 client-round records on 10 devices (vectorized estimator).

Prints measured medians. The costing itself (numpy over record columns) is timed on 10^6
records; trace parsing (JSONL -> validated records -> columns) is timed separately on a smaller
trace and reported as a rate, because it is I/O and validation, not costing.

    .venv/bin/python benchmarks/bench_estimate.py [--records 1000000] [--repeats 3] [--parse-records 20000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from zerofl_profiler.analysis.estimate import records_from_trace
from zerofl_profiler.hardware_models import Costing, get_network, resolve_device
from zerofl_profiler.hardware_models.population import parse_mix
from zerofl_profiler.hardware_models.rounds import price_population
from zerofl_profiler.hardware_models.workload import ClientRounds, batch_triplets, from_layers
from zerofl_profiler.traces import ClientRoundRecord, JsonlWriter, read_client_records
from zerofl_profiler.traces.schema import FLOP_KEYS

DEVICES = ("h100", "a100", "v100", "t4", "jetson-agx-orin@30W", "jetson-xavier-nx", "jetson-tx2", "jetson-nano",
           "snapdragon-865-gpu", "snapdragon-888-cpu")


def synthetic_layers(n_gemm: int = 20) -> dict:
    """A ResNet-sized layers document: n_gemm sparsified GEMM rows, each followed by a BN-like row."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_gemm):
        f = int(rng.integers(10**7, 10**8))
        w, x, y = (int(v) for v in rng.integers(10**4, 10**6, size=3))
        ph = {"forward": {"read": 4 * (w + x), "written": 4 * y},
              "backward_input": {"read": 4 * (y + w), "written": 4 * x},
              "backward_weight": {"read": 4 * (y + x), "written": 4 * w}}
        rows.append({"name": f"conv{i}", "type": "Conv2d", "op_class": "gemm", "sparsified": i > 0,
                     "dense": {"forward": f, "backward_input": f, "backward_weight": f, "update": 0},
                     "sparse": {"forward": f // 10, "backward_input": f // 10, "backward_weight": f // 10,
                                "update": 0},
                     "bytes": {"dtype_bytes": 4, "weights": 4 * w, "input": 4 * x, "output": 4 * y, "dense": ph}})
        rows.append({"name": f"bn{i}", "type": "BatchNorm2d", "op_class": "elementwise",
                     "dense": {"forward": 4 * y, "backward_input": 6 * y},
                     "sparse": {"forward": 4 * y, "backward_input": 6 * y},
                     "bytes": {"dense": {"forward": {"read": 4 * y, "written": 4 * y},
                                         "backward_input": {"read": 8 * y, "written": 4 * y}}}})
    rows.append({"name": "<optimizer>", "type": "sgd", "op_class": "optimizer", "dense": {"update": 3 * 10**7},
                 "sparse": {"update": 3 * 10**7}, "bytes": {"dense": {"update": {"read": 10**8, "written": 8 * 10**7}}}})
    return {"optimizer": "sgd", "batch_size": 32, "layers": rows}


def synthetic_columns(n: int, clients_per_round: int = 10, population: int = 100) -> ClientRounds:
    """n client-round records: rounds of clients_per_round drawn from a population of client ids.

    Each runs ``steps`` batches of 32 and, one record in ten, a partial last batch of 7.
    """
    rng = np.random.default_rng(1)
    steps = rng.integers(5, 50, size=n).astype(np.float64)
    per_step = np.array([1e9, 1e9, 1e9, 5e7, 1e7])
    fd = steps[:, None] * per_step[None, :] * rng.uniform(0.9, 1.1, size=(n, 5))
    dens = np.c_[rng.uniform(0.05, 0.2, size=(n, 3)), np.ones((n, 2))]
    batches = [[32] * (int(s) - 1) + [7 if i % 10 == 0 else 32] for i, s in enumerate(steps)]
    sizes, rec, idx, cnt = batch_triplets(batches)
    return ClientRounds(
        rounds=np.arange(n, dtype=np.int64) // clients_per_round,
        client_ids=rng.integers(0, population, size=n).astype(np.int64), steps=steps, fd=fd, fs=fd * dens,
        bytes_down=np.full(n, 4.5e7), bytes_up=rng.uniform(5e6, 1e7, size=n), bytes_up_dense=np.full(n, 4.5e7),
        batch_sizes=sizes, batch_record=rec, batch_index=idx, batch_count=cnt)


def write_trace(path: Path, n: int) -> None:
    """A real trace.jsonl with n records (for the parsing benchmark)."""
    block = {k: 10**9 for k in FLOP_KEYS}
    with JsonlWriter(path, fsync=False) as w:
        for i in range(n):
            w.write(ClientRoundRecord(
                run_id="bench", round=i // 10, client_id=i % 100, samples=320, steps=10, batch_sizes=[32] * 10,
                densities={f"layer{j}": {"weight": 0.1, "activation": 0.1} for j in range(20)},
                flops={"dense": block, "sparse": {k: v // 10 for k, v in block.items()}}, bytes_up=10**7,
                bytes_up_dense=4 * 10**7, bytes_down=4 * 10**7, wall_time_s=1.0, cpu_time_s=1.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--parse-records", type=int, default=20_000)
    a = ap.parse_args()

    step = from_layers(synthetic_layers())
    profiles = tuple(resolve_device(d) for d in DEVICES)
    net = get_network("lte")
    variants = {
        "10 devices": Costing(profiles, net),
        "10 devices + 50/50 mix": Costing(profiles, net, parse_mix("jetson-nano=0.5,snapdragon-865-cpu=0.5",
                                                                     resolve_device)),
    }
    t0 = time.perf_counter()
    cols = synthetic_columns(a.records)
    print(f"built {a.records:,} synthetic record columns in {time.perf_counter() - t0:.2f} s "
          f"({len(np.unique(cols.rounds)):,} rounds, {len(step.row_names)} cost rows per step)")
    times: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(a.repeats):  # alternate the variants round by round
        for name, costing in variants.items():
            t0, c0 = time.perf_counter(), time.process_time()
            entries, _ = price_population(step, cols, costing, seed=0)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            assert len(entries) == len(costing.devices) + (1 if costing.mix else 0)
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"costing {a.records:,} records, {name}: median wall {med:.2f} s over {len(ts)} runs "
              f"(min {min(ts):.2f}, max {max(ts):.2f}), median CPU {statistics.median(cpu[name]):.2f} s; "
              f"{a.records * len(DEVICES) / med / 1e6:.1f} M record-devices/s wall")
    base = statistics.median(times["10 devices"])
    print(f"mix overhead: {statistics.median(times['10 devices + 50/50 mix']) / base:.2f}x the devices-only time")

    with tempfile.TemporaryDirectory() as td:
        p = Path(td) / "trace.jsonl"
        write_trace(p, a.parse_records)
        parse, colt = [], []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            recs = read_client_records(p)
            t1 = time.perf_counter()
            records_from_trace(recs)
            t2 = time.perf_counter()
            parse.append(t1 - t0)
            colt.append(t2 - t1)
        mp, mc = statistics.median(parse), statistics.median(colt)
        rate = a.parse_records / mp
        print(f"parsing + validating {a.parse_records:,} JSONL records: median {mp:.2f} s ({rate:,.0f} records/s; "
              f"10^6 records would take about {1e6 / rate:.0f} s, extrapolated); to columns: {mc:.3f} s")


if __name__ == "__main__":
    main()
