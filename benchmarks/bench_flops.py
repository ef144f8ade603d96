"""Time to count one ResNet-18 training step (the issue's target: well under 1 s).

Variants are timed in alternating rounds (machine timings swing 30-50%), and medians are quoted:
the full count (shape pass + costing) dense and at 90% sparsity, and its two halves.
Run: .venv/bin/python benchmarks/bench_flops.py [--rounds 15] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

from zerofl_profiler.flops import count_from_trace, count_training_step, trace_model
from zerofl_profiler.models import build_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--model", default="resnet18")
    args = ap.parse_args()
    model = build_model(args.model)
    shape = (3, 32, 32) if args.model != "cnn" else (1, 8, 8)
    b = args.batch_size
    trace = trace_model(model, shape, b)
    variants: dict[str, Callable[[], object]] = {
        "count dense (full)": lambda: count_training_step(model, shape, b),
        "count sparse 0.9 (full)": lambda: count_training_step(model, shape, b, weight_sparsity=0.9),
        "shape pass only": lambda: trace_model(model, shape, b),
        "shape pass, no dispatch count": lambda: trace_model(model, shape, b, dispatch=False),
        "costing only (re-used trace)": lambda: count_from_trace(trace, weight_sparsity=0.9),
    }
    for f in variants.values():  # warm-up
        f()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, f in variants.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    print(f"{args.model}, batch {b}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} alternating rounds")
    ref = statistics.median(times["count dense (full)"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:30s} median {med * 1e3:8.1f} ms  (min {min(ts) * 1e3:7.1f}, max {max(ts) * 1e3:7.1f})"
              f"  ratio to full dense {med / ref:5.2f}")


if __name__ == "__main__":
    main()
