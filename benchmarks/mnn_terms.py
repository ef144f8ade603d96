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

This script holds that Strassen rule (:func:`strassen_macs`) and MNN's im2col buffers
(:func:`im2col_bytes`) and reruns the phone fit with each priced in (a variant of the rows'
work only; the package's cost model is unchanged), printing in-sample and held-out results per
model beside the unmodified fit:

    .venv/bin/python benchmarks/mnn_terms.py            # base, strassen, im2col (a few minutes)
    .venv/bin/python benchmarks/mnn_terms.py strassen   # one variant

Neither is in the cost model: both raise the phone's held-out error (docs/fidelity.md, "Results").
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zerofl_profiler.calibration.published.fidelity import run_fidelity  # noqa: E402
from zerofl_profiler.calibration.published.rows import PublishedRow, load_rows  # noqa: E402
from zerofl_profiler.calibration.published.summary import by_model_lines, summary_lines  # noqa: E402
from zerofl_profiler.calibration.published.workloads import step_profile  # noqa: E402
from zerofl_profiler.hardware_models.workload import StepRows, class_index  # noqa: E402

#: arm64 MatMul packing (MNNGetMatMulPackMode), MNNGetC4DivNumber(8) = 2, CPUMatMul's max depth.
E_PACK, H_PACK, H_DIV, MAX_DEPTH = 12, 8, 2, 5
#: MNN's penalty on the Strassen adds (StrassenMatmulComputor.cpp, "pernaty").
PENALTY = 1.5
FP32 = 4


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _trivial(e: int, l_real: int, h_c4: int, b_h: int) -> int:
    """Multiply-adds of `_generateTrivalMatMul`: every e column against hMin = min(4 hC4, 8 bH) rows."""
    return e * l_real * min(4 * h_c4, H_PACK * b_h)


def _strassen(e: int, l_c4: int, l_real: int, h_c4: int, b_h: int, depth: int, max_depth: int) -> int:
    """`_generateMatMul` on AT (lC4, e, 4), BT (bH, lReal, 8), CT (hC4, e, 4): executed multiply-adds."""
    e_sub = (e // E_PACK) // 2 * E_PACK
    l_sub = l_c4 // 2
    h_sub = (h_c4 // H_DIV) // 2 * H_DIV
    if depth >= max_depth or e_sub == 0 or h_sub == 0 or l_real % 8 != 0:
        return _trivial(e, l_real, h_c4, b_h)
    bl_sub, bh_sub = l_sub * 4, (h_sub * 4) // H_PACK
    a_cost = 4 * e_sub * l_sub * 4
    b_cost = 4 * bl_sub * bh_sub * H_PACK
    c_cost = 7 * e_sub * h_sub * 4
    save = (e // E_PACK) * (4 * E_PACK * h_sub + l_sub * E_PACK * 4 + bl_sub * bh_sub * H_PACK)
    if save - (a_cost + b_cost + c_cost) * PENALTY <= 0:
        return _trivial(e, l_real, h_c4, b_h)
    macs = 7 * _strassen(e_sub, l_sub, bl_sub, h_sub, bh_sub, depth + 1, max_depth)
    if h_c4 - 2 * h_sub > 0:  # remainH: the whole AT against the last rows of B
        macs += _trivial(e, l_real, h_c4 - 2 * h_sub, b_h - 2 * bh_sub)
    if e - 2 * e_sub > 0:  # remainE: the last columns of A against the whole B
        macs += _trivial(e - 2 * e_sub, l_real, h_c4, b_h)
    return macs


def strassen_macs(e: int, l: int, h: int, max_depth: int = MAX_DEPTH) -> int:
    """Multiply-adds CPUMatMul executes for C (e x h) = A (e x l) B (l x h) (direct: e*l*h).

    e == 1 and h == 1 take CPUMatMul's vector paths (`_scheduleForVecE`, `_scheduleForVec`): direct.
    """
    if e == 1 or h == 1:
        return e * l * h
    return _strassen(e, _ceil(l, 4), l, _ceil(h, 4), _ceil(h, H_PACK), 0, max_depth)


@dataclass(frozen=True)
class GemmShape:
    """One conv (groups = 1) or linear layer as a GEMM: R output rows per sample, inner K, M outputs."""

    kind: str  # "conv" | "linear"
    rows_per_sample: int  # conv: oh*ow; linear: 1
    inner: int  # conv: ic*kh*kw; linear: in_features
    outputs: int  # conv: oc; linear: out_features

    def mnn_dims(self, phase: str, batch: int) -> tuple[int, int, int]:
        """(e, l, h) of the MatMul MNN's geometry builds for ``phase`` (files named in the docstring)."""
        r, k, m = self.rows_per_sample * batch, self.inner, self.outputs
        if phase == "forward":  # GeometryConv2D: C (n*oh*ow, oc) = im2col^T * W^T; linear: X * W^T
            return r, k, m
        if phase == "backward_input":  # deconv: C (oc*kh*kw, n*ih*iw); MatMulGrad: dY * W
            return (k, m, r) if self.kind == "conv" else (r, m, k)
        # weight gradient: BackPropFilter C (ic*kh*kw, oc); MatMulGrad: dY^T * X
        return (k, r, m) if self.kind == "conv" else (m, r, k)


def im2col_bytes(shape: GemmShape, phase: str, batch: int) -> float:
    """Bytes of MNN's im2col/col2im buffer (K x R floats) a conv phase moves beyond the direct conv.

    Forward and weight gradient: the im2col raster writes it, CPUMatMul's A pack reads it and writes
    the packed copy (3 passes). Input gradient: the MatMul's packed C and its unpack (3), the col2im
    raster (2) and the ReduceSum over kh*kw reading it (1). Linear layers have none.
    """
    if shape.kind != "conv":
        return 0.0
    passes = 6 if phase == "backward_input" else 3
    return float(passes * FP32 * shape.inner * shape.rows_per_sample * batch)


@lru_cache(maxsize=None)
def gemm_shapes(model: str) -> dict[str, GemmShape]:
    """GEMM shape of every dense conv and linear layer of a published model, by module name."""
    import torch
    from torch import nn

    from zerofl_profiler.calibration.published.models import PUBLISHED_MODELS

    factory, in_shape = PUBLISHED_MODELS[model]
    net = factory()
    out: dict[str, GemmShape] = {}
    hooks = []
    for name, mod in net.named_modules():
        if isinstance(mod, nn.Conv2d) and mod.groups == 1:
            def conv_hook(m: nn.Conv2d, _i: object, o: torch.Tensor, name: str = name) -> None:
                out[name] = GemmShape("conv", o.shape[2] * o.shape[3],
                                      m.in_channels * m.kernel_size[0] * m.kernel_size[1], m.out_channels)
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            out[name] = GemmShape("linear", 1, mod.in_features, mod.out_features)
    with torch.no_grad():
        net(torch.zeros(1, *in_shape))
    for h in hooks:
        h.remove()
    return out


def variant_work(variant: str) -> Callable[[PublishedRow], StepRows]:
    """The rows' work with MNN's ``variant`` priced in on the mnn runtime's GEMM rows ("base": none)."""
    gemm = class_index("gemm")

    def work_of(row: PublishedRow) -> StepRows:
        prof = step_profile(row.model, row.optimizer)
        rows = prof.at_batch(row.batch)
        if variant == "base" or row.runtime != "mnn":
            return rows
        shapes = gemm_shapes(row.model)
        flops, nbytes = rows.flops_dense.copy(), rows.nbytes.copy()
        for i, name in enumerate(prof.row_names):
            layer, phase = name.rsplit(":", 1)
            if rows.row_class[i] != gemm:
                continue
            if layer not in shapes:
                raise KeyError(f"{row.model}: GEMM row {name!r} has no layer shape")
            s = shapes[layer]
            if variant == "strassen":
                e, l, h = s.mnn_dims(phase, row.batch)
                flops[i] *= strassen_macs(e, l, h) / (e * l * h)
            elif variant == "im2col":
                nbytes[i] += im2col_bytes(s, phase, row.batch)
        return replace(rows, flops_dense=flops, flops_sparse=np.minimum(rows.flops_sparse, flops), nbytes=nbytes)

    return work_of


VARIANTS = ("base", "strassen", "im2col")


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
