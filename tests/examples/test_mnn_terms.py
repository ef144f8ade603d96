"""benchmarks/mnn_terms.py: MNN's Strassen rule and GEMM orientation on small cases worked by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def terms():
    spec = importlib.util.spec_from_file_location("mnn_terms_script", BENCH / "mnn_terms.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses resolve their module by name
    spec.loader.exec_module(mod)
    return mod


def test_no_strassen_when_l_is_not_a_multiple_of_8(terms):
    # "lReal % 8 != 0" -> _generateTrivalMatMul; h = 512 is a whole number of 8-wide B panels
    assert terms.strassen_macs(512, 363, 512) == 512 * 363 * 512


def test_no_strassen_when_e_has_no_two_tiles_of_12(terms):
    # eSub = (23 / 12) / 2 * 12 = 0
    assert terms.strassen_macs(23, 1024, 1024) == 23 * 1024 * 1024


def test_vector_paths_are_direct(terms):
    assert terms.strassen_macs(1, 6400, 4096) == 6400 * 4096  # e == 1: _scheduleForVecE
    assert terms.strassen_macs(4096, 6400, 1) == 4096 * 6400  # h == 1: _scheduleForVec


def test_cost_check_refuses_a_small_product(terms):
    # e=48, l=16, h=16: eSub 24, lSub 2, hSub 2; A 768 + B 256 + C 1344 = 2368, x 1.5 = 3552 > save 1024
    assert terms.strassen_macs(48, 16, 16) == 48 * 16 * 16


def test_one_level_by_hand(terms):
    # 512^3, one level: eSub 252, lSub 64 (l 256), hSub 64 (h 256): save 42 * (3072 + 3072 + 65536)
    # = 3010560 > 1.5 * (258048 + 262144 + 451584); 7 products of 252x256x256, remainE 8 columns x 512 x 512
    assert terms.strassen_macs(512, 512, 512, max_depth=1) == 7 * 252 * 256 * 256 + 8 * 512 * 512
    assert terms.strassen_macs(512, 512, 512, max_depth=0) == 512 ** 3
    deeper = terms.strassen_macs(512, 512, 512)
    assert deeper < 7 * 252 * 256 * 256 + 8 * 512 * 512  # the sub-products recurse further


def test_padding_of_h_to_whole_panels_is_executed(terms):
    # h = 10 -> hC4 = 3, two 8-wide panels: hMin = min(12, 16) = 12 rows computed
    assert terms.strassen_macs(100, 20, 10) == 100 * 20 * 12


def test_mnn_orientation_per_phase(terms):
    conv = terms.GemmShape("conv", rows_per_sample=49, inner=27, outputs=8)
    assert conv.mnn_dims("forward", 2) == (98, 27, 8)
    assert conv.mnn_dims("backward_input", 2) == (27, 8, 98)  # C (ic*kh*kw, n*ih*iw) of the deconv
    assert conv.mnn_dims("backward_weight", 2) == (27, 98, 8)  # C (ic*kh*kw, oc)
    lin = terms.GemmShape("linear", rows_per_sample=1, inner=800, outputs=400)
    assert lin.mnn_dims("backward_input", 4) == (4, 400, 800)  # dY * W
    assert lin.mnn_dims("backward_weight", 4) == (400, 4, 800)  # dY^T * X
    for s in (conv, lin):
        sizes = {int(np.prod(s.mnn_dims(p, 3))) for p in ("forward", "backward_input", "backward_weight")}
        assert sizes == {3 * s.rows_per_sample * s.inner * s.outputs}
    assert terms.im2col_bytes(lin, "forward", 4) == 0.0
    assert terms.im2col_bytes(conv, "backward_input", 2) == 2 * terms.im2col_bytes(conv, "forward", 2)


def test_variant_changes_only_mnn_gemm_rows(terms):
    from zerofl_profiler.calibration.published.rows import load_rows
    from zerofl_profiler.calibration.published.workloads import row_workload
    from zerofl_profiler.hardware_models.workload import class_index

    shapes = terms.gemm_shapes("mnn-lenet")
    assert shapes["0"] == terms.GemmShape("conv", 24 * 24, 25, 20)
    assert shapes["5"] == terms.GemmShape("linear", 1, 800, 400)
    rows = load_rows()
    lenet = next(r for r in rows if r.runtime == "mnn" and r.model == "mnn-lenet" and r.batch == 16)
    base, strassen = row_workload(lenet), terms.variant_work("strassen")(lenet)
    gemm = base.row_class == class_index("gemm")
    assert np.array_equal(strassen.flops_dense[~gemm], base.flops_dense[~gemm])
    assert np.array_equal(strassen.nbytes, base.nbytes)
    names = terms.step_profile("mnn-lenet", lenet.optimizer).row_names
    last = names.index("8:forward")  # linear 400 -> 10 at batch 16: no Strassen (eSub 0), h padded to 12
    assert strassen.flops_dense[last] == pytest.approx(base.flops_dense[last] * 12 / 10)
    other = next(r for r in rows if r.runtime != "mnn")
    assert np.array_equal(terms.variant_work("im2col")(other).nbytes, row_workload(other).nbytes)
