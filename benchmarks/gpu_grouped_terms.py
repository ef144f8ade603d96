"""Whether the GPU rows want depthwise and grouped convolutions priced apart, as the cost model does.

The FLOP counter puts only depthwise convolutions (one input channel per group) in the op class
``gemm_grouped`` (``zerofl_profiler/flops/gemm.py``); ResNeXt-101 32x4d's 32-group convolutions
(4-32 input channels per group) are ``gemm``. This script refits the GPU rows
(`zerofl-profile fidelity`'s rows on the V100 and A100; the GPU class's fit never sees the phone's)
as shipped and with every convolution of groups > 1 in ``gemm_grouped`` (one shared
``gemm_grouped / gemm`` ratio for both kinds), and prints in-sample and held-out results per device
and model::

    PYTHONPATH=. .venv/bin/python benchmarks/gpu_grouped_terms.py             # both variants
    PYTHONPATH=. .venv/bin/python benchmarks/gpu_grouped_terms.py all-grouped # one

Each variant runs the whole leave-one-model-out fit (minutes on a shared 2-core host).
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
from collections import defaultdict

from zerofl_profiler.calibration.published.fidelity import run_fidelity
from zerofl_profiler.calibration.published.rows import load_rows
from zerofl_profiler.calibration.published.summary import to_json
from zerofl_profiler.calibration.published.workloads import row_workload, step_profile
from zerofl_profiler.flops import registry
from zerofl_profiler.flops.gemm import conv_formula

CONV_OPS = ("convolution", "_convolution", "cudnn_convolution", "_slow_conv2d_forward", "convolution_overrideable")


def all_grouped(rec):  # type: ignore[no-untyped-def]
    """The shipped conv formula, with every convolution of groups > 1 as ``gemm_grouped``."""
    costs = conv_formula(rec)
    groups = int(rec.args[8]) if len(rec.args) > 8 else 1
    if costs[0].op_class == "gemm" and groups > 1:
        costs[0] = dataclasses.replace(costs[0], op_class="gemm_grouped")
    return costs


def report(name: str) -> None:
    """Fit the GPU rows with the current formulas and print the summary and the per-model table."""
    step_profile.cache_clear()
    doc = to_json(run_fidelity([r for r in load_rows() if r.unit == "gpu"], row_workload))
    s = doc["summary"]
    print(f"== {name}: in-sample median error {s['in_sample']['median_error']:.1%}, "
          f"{s['in_sample']['within_1_5x']}/{s['in_sample']['rows']} within 1.5x; held out median error "
          f"{s['held_out']['median_error']:.1%}, {s['held_out']['within_1_5x']}/{s['held_out']['rows']} within 1.5x")
    by: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in doc["rows"]:
        by[(r["device"], r["model"])].append(r)
    for (dev, model), rs in sorted(by.items()):
        ins = [r["ratio"] for r in rs]
        held = [r["held_out_ratio"] for r in rs if r["held_out_ratio"] is not None]
        print(f"  {dev:6s} {model:24s} {len(rs):4d} rows  in-sample median ratio {statistics.median(ins):.2f}  "
              f"held out {statistics.median(held):.2f}")


def main(argv: list[str]) -> int:
    variants = argv or ["shipped", "all-grouped"]
    for v in variants:
        if v == "all-grouped":
            for op in CONV_OPS:
                registry.FORMULAS[registry.normalise(op)] = all_grouped
        report(v)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
