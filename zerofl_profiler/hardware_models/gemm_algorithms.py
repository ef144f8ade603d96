"""GEMM algorithms a runtime runs a dense conv/linear row with: the multiply-adds its device executes.

The FLOP counter reports the direct product (2 x rows x inner x outputs per phase) and keeps doing
so; a runtime whose GEMM does fewer multiplications is priced at those (``gemm_algorithm`` of a
unit or runtime profile, docs/devices.md). Rules (``GEMM_ALGORITHMS``), each from its runtime's
source:

* ``direct``: every counted multiply-add (every runtime but the ones below).
* ``mnn-strassen``: MNN's CPU backend in training, as the MNN fork of
  UbiquitousLearning/Benchmark-On-Device-Training @ 752659f builds it (arm64): every dense
  convolution with a weight input becomes im2col + MatMul (``source/geometry/GeometryConv2D.cpp``,
  "// Im2Col + GEMM"; the gradients ``GeometryConvTranspose2D`` and
  ``GeometryConv2DBackPropFilter.cpp``), a linear layer and its gradients MatMul
  (``tools/train/source/grad/MatMulGrad.cpp``), and every MatMul runs
  ``StrassenMatrixComputor(backend, true, 5)`` (``source/backend/cpu/CPUMatMul.cpp``), which
  recurses while its cost test passes (``StrassenMatmulComputor.cpp: _generateMatMul``, below).
  No Winograd: that is only for a convolution with a constant weight (inference).

numpy-free and torch-free; results are cached per shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping

from ..errors import BadInputError
from ..vocab import GEMM_PHASES

#: Phases a GEMM row can be in (the FLOP counter's GEMM phases).
FORWARD, BACKWARD_INPUT, BACKWARD_WEIGHT = GEMM_PHASES


@dataclass(frozen=True)
class GemmShape:
    """One GEMM of a row as the counter sees it: (rows x inner) times (inner x outputs) in the forward.

    conv (groups = 1): rows = batch x output pixels, inner = C_in x kernel, outputs = C_out;
    matmul (a linear layer): rows = batch (x leading dims), inner = in_features, outputs = out_features.
    """

    kind: str  # "conv" | "matmul"
    rows: int
    inner: int
    outputs: int

    @property
    def macs(self) -> int:
        """Multiply-adds of the direct product (= the counted FLOPs / 2 of each phase)."""
        return self.rows * self.inner * self.outputs


# --- MNN (arm64): source/backend/cpu/arm/CommonOptFunctionNeon.cpp, MNNGetMatMulPackMode:
#     "*eP = 12; *lP = 1; ... #ifdef __aarch64__ *hP = 8;"; MNNGetC4DivNumber(8) = 8 / 4 = 2;
#     CPUMatMul: StrassenMatrixComputor(..., 5) (max depth); "const float pernaty = 1.5f".
MNN_E_PACK, MNN_H_PACK, MNN_H_DIV, MNN_MAX_DEPTH, MNN_PENALTY = 12, 8, 2, 5, 1.5


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _mnn_trivial(e: int, l_real: int, h_c4: int, b_h: int) -> int:
    """`_generateTrivalMatMul`: every e column against hMin = min(4 hC4, hP bH) rows of B."""
    return e * l_real * min(4 * h_c4, MNN_H_PACK * b_h)


def _mnn_strassen(e: int, l_c4: int, l_real: int, h_c4: int, b_h: int, depth: int, max_depth: int) -> int:
    """`_generateMatMul` on AT (lC4, e, 4), BT (bH, lReal, hP), CT (hC4, e, 4): executed multiply-adds.

    Trivial when "currentDepth >= mMaxDepth || eSub == 0 || hSub == 0 || lReal % 8 != 0" or when
    "saveCost = saveMatMulCost - (AComputeCost + BComputeCost + CComputeCost) * pernaty" is <= 0;
    else 7 sub-products of (eSub, lSub, hSub) plus the remainH / remainE strips done trivially.
    """
    e_sub = (e // MNN_E_PACK) // 2 * MNN_E_PACK
    l_sub = l_c4 // 2
    h_sub = (h_c4 // MNN_H_DIV) // 2 * MNN_H_DIV
    if depth >= max_depth or e_sub == 0 or h_sub == 0 or l_real % 8 != 0:
        return _mnn_trivial(e, l_real, h_c4, b_h)
    bl_sub, bh_sub = l_sub * 4, (h_sub * 4) // MNN_H_PACK
    a_cost = 4 * e_sub * l_sub * 4
    b_cost = 4 * bl_sub * bh_sub * MNN_H_PACK
    c_cost = 7 * e_sub * h_sub * 4
    save = (e // MNN_E_PACK) * (4 * MNN_E_PACK * h_sub + l_sub * MNN_E_PACK * 4 + bl_sub * bh_sub * MNN_H_PACK)
    if save - (a_cost + b_cost + c_cost) * MNN_PENALTY <= 0:
        return _mnn_trivial(e, l_real, h_c4, b_h)
    macs = 7 * _mnn_strassen(e_sub, l_sub, bl_sub, h_sub, bh_sub, depth + 1, max_depth)
    if h_c4 - 2 * h_sub > 0:  # remainH: the whole A against B's last rows
        macs += _mnn_trivial(e, l_real, h_c4 - 2 * h_sub, b_h - 2 * bh_sub)
    if e - 2 * e_sub > 0:  # remainE: A's last columns against the whole B
        macs += _mnn_trivial(e - 2 * e_sub, l_real, h_c4, b_h)
    return macs


@lru_cache(maxsize=65536)
def mnn_matmul_macs(e: int, l: int, h: int, max_depth: int = MNN_MAX_DEPTH) -> int:
    """Multiply-adds MNN's CPUMatMul executes for C (e x h) = A (e x l) B (l x h).

    e == 1 or h == 1 take CPUMatMul's vector paths (`_scheduleForVecE`, `_scheduleForVec`): direct.
    """
    if e <= 0 or l <= 0 or h <= 0:
        return 0
    if e == 1 or h == 1:
        return e * l * h
    return _mnn_strassen(e, _ceil(l, 4), l, _ceil(h, 4), _ceil(h, MNN_H_PACK), 0, max_depth)


def mnn_dims(shape: GemmShape, phase: str) -> tuple[int, int, int]:
    """(e, l, h) of the MatMul MNN's training graph builds for a row's phase.

    forward: GeometryConv2D "C = MatMul(B, A)" of (n*oh*ow, ic*kh*kw) x (ic*kh*kw, oc); a linear X W^T.
    backward_input: the Deconvolution's C (oc*kh*kw, n*ih*iw) = W^T dY of the forward's (inner, outputs,
    rows); MatMulGrad's dY W for a linear (rows, outputs, inner). backward_weight: Conv2DBackPropFilter's
    C (ic*kh*kw, oc) = im2col dY^T (inner, rows, outputs); MatMulGrad's dY^T X (outputs, rows, inner).
    """
    r, k, m = shape.rows, shape.inner, shape.outputs
    if phase == FORWARD:
        return r, k, m
    if phase == BACKWARD_INPUT:
        return (k, m, r) if shape.kind == "conv" else (r, m, k)
    return (k, r, m) if shape.kind == "conv" else (m, r, k)


def _direct(shape: GemmShape, phase: str) -> int:
    return shape.macs


def _mnn(shape: GemmShape, phase: str) -> int:
    return mnn_matmul_macs(*mnn_dims(shape, phase))


#: algorithm name -> executed multiply-adds of one GEMM shape in one phase
GEMM_ALGORITHMS: Mapping[str, Callable[[GemmShape, str], int]] = {"direct": _direct, "mnn-strassen": _mnn}


def check_algorithm(name: object, where: str) -> str:
    """``name`` if it is a known GEMM algorithm, else a one-line error naming ``where``."""
    if name not in GEMM_ALGORITHMS:
        raise BadInputError(f"{where}: must be one of {', '.join(GEMM_ALGORITHMS)}, got {name!r}")
    return str(name)


def executed_fraction(algorithm: str, shapes: tuple[GemmShape, ...], phase: str) -> float:
    """Executed / counted multiply-adds of a row made of ``shapes`` (1 for none, or ``direct``)."""
    if algorithm == "direct" or not shapes:
        return 1.0
    counted = sum(s.macs for s in shapes)
    if counted <= 0:
        return 1.0
    rule = GEMM_ALGORITHMS[algorithm]
    return sum(rule(s, phase) for s in shapes) / counted
