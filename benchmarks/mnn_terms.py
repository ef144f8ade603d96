"""What MNN's CPU backend runs for a training convolution, and whether pricing it helps the phone rows.

The phone rows (`zerofl-profile fidelity`, Snapdragon 855, MNN on-device training) ran the MNN
fork in UbiquitousLearning/Benchmark-On-Device-Training @ 752659f (the repository is MNN itself
plus `tools/train/benchmark`; `Build Flags: ABI=arm64-v8a`). Read there:

* Training convolutions never run Winograd. `express/module/NN.cpp` (ConvModule::onForward, training)
  calls `_Conv(mParameter.weight, mParameter.bias, ...)` with the weight as a variable, so the op has
  2-3 inputs; `source/geometry/GeometryConv2D.cpp` then rewrites it ("if (inputs.size() == 1) { //
  Origin convolution with format converter ... } return computeIm2Col_GEMM(...)", "// Im2Col + GEMM").
  Winograd (`ConvolutionFloatFactory.cpp: _createUnit`, `ConvolutionWinograd::canUseWinograd`) is
  reached only by the single-input (constant-weight) convolution, i.e. inference.
* The backward ops `tools/train/source/grad/ConvGrad.cpp` builds are a Deconvolution with the weight
  as input (input gradient; `GeometryConvTranspose2D::computeGEMM_Col2Im`: MatMul, col2im raster,
  ReduceSum over kh*kw) and a Conv2DBackPropFilter (`GeometryConv2DBackPropFilter.cpp`: im2col +
  MatMul; depthwise: per kernel tap a sampler, a multiply and two reductions). Linear layers are
  MatMul (`NN::Linear`), their gradients MatMul (`grad/MatMulGrad.cpp`).
* Every MatMul is `CPUMatMul`, which packs A and B and calls `StrassenMatrixComputor(backend, true,
  5)` (`CPUMatMul.cpp`); `StrassenMatmulComputor.cpp:_generateMatMul` recurses (at most 5 levels)
  while "saveCost = saveMatMulCost - (AComputeCost + BComputeCost + CComputeCost) * pernaty" is > 0
  ("const float pernaty = 1.5f"), and not when "currentDepth >= mMaxDepth || eSub == 0 || hSub == 0
  || lReal % 8 != 0"; each level does 7 sub-products instead of 8. arm64 packing:
  `arm/CommonOptFunctionNeon.cpp: MNNGetMatMulPackMode`: "*eP = 12; *lP = 1; ... *hP = 8".

The cost model prices the mnn runtime's dense GEMM rows at that rule's multiply-adds
(``gemm_algorithm = "mnn-strassen"``, ``zerofl_profiler/hardware_models/gemm_algorithms.py``).
This script reruns the phone fit three ways and prints in-sample and held-out results per model:
as shipped (``mnn-strassen``), with every counted FLOP multiplied (``direct``: the rows' GEMM
shapes dropped), and with MNN's im2col buffers added to the conv rows' bytes (``im2col``:
:func:`im2col_bytes`, on top of the shipped rule; not in the cost model, it raises the held-out
error; docs/fidelity.md, "Results"):

    .venv/bin/python benchmarks/mnn_terms.py                # all three (about a minute)
    .venv/bin/python benchmarks/mnn_terms.py direct         # one
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zerofl_profiler.calibration.published.fidelity import run_fidelity  # noqa: E402
from zerofl_profiler.calibration.published.rows import PublishedRow, load_rows  # noqa: E402
from zerofl_profiler.calibration.published.summary import by_model_lines, summary_lines  # noqa: E402
from zerofl_profiler.calibration.published.workloads import row_workload  # noqa: E402
from zerofl_profiler.hardware_models.gemm_algorithms import GemmShape  # noqa: E402
from zerofl_profiler.hardware_models.records import PHASES  # noqa: E402
from zerofl_profiler.hardware_models.workload import StepRows  # noqa: E402

FP32 = 4


def im2col_bytes(shape: GemmShape, phase: str) -> float:
    """Bytes of MNN's im2col/col2im buffer (inner x rows floats) a conv phase moves beyond the direct conv.

    Forward and weight gradient: the im2col raster writes it, CPUMatMul's A pack reads it and writes
    the packed copy (3 passes). Input gradient: the MatMul's packed C and its unpack (3), the col2im
    raster (2) and the ReduceSum over kh*kw reading it (1). Linear layers (matmul) have none.
    """
    if shape.kind != "conv":
        return 0.0
    passes = 6 if phase == "backward_input" else 3
    return float(passes * FP32 * shape.inner * shape.rows)


def variant_work(variant: str) -> Callable[[PublishedRow], StepRows]:
    """The rows' work for ``variant`` (only the mnn runtime's rows differ from the shipped ones)."""

    def work_of(row: PublishedRow) -> StepRows:
        rows = row_workload(row)
        if variant == "mnn-strassen" or row.runtime != "mnn":
            return rows
        if variant == "direct":
            return replace(rows, gemm=())
        extra = np.array([sum(im2col_bytes(s, PHASES[p]) for s in shapes)
                          for shapes, p in zip(rows.gemm, rows.row_phase)]) if rows.gemm else 0.0
        return replace(rows, nbytes=rows.nbytes + extra)

    return work_of


VARIANTS = ("mnn-strassen", "direct", "im2col")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*", metavar="VARIANT", help=f"any of {', '.join(VARIANTS)} (default: all)")
    a = ap.parse_args(argv)
    unknown = [v for v in a.variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    rows = [r for r in load_rows() if r.runtime == "mnn"]
    for v in a.variants or VARIANTS:
        rep = run_fidelity(rows, variant_work(v))
        print(f"## {v}")
        print("\n".join([*(f"- {s}" for s in summary_lines(rep)), "", *by_model_lines(rep), ""]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
