"""GEMM algorithms: MNN's Strassen rule on small cases worked by hand, its orientation per phase, and
that it changes only the time of the devices that name it (counted FLOPs stay the counter's)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.hardware_models.gemm_algorithms import (
    GemmShape,
    check_algorithm,
    executed_fraction,
    mnn_dims,
    mnn_matmul_macs,
)


def test_no_strassen_when_l_is_not_a_multiple_of_8():
    # "lReal % 8 != 0" -> _generateTrivalMatMul; h = 512 is a whole number of 8-wide B panels
    assert mnn_matmul_macs(512, 363, 512) == 512 * 363 * 512


def test_no_strassen_when_e_has_no_two_tiles_of_12():
    # eSub = (23 / 12) / 2 * 12 = 0
    assert mnn_matmul_macs(23, 1024, 1024) == 23 * 1024 * 1024


def test_vector_paths_are_direct():
    assert mnn_matmul_macs(1, 6400, 4096) == 6400 * 4096  # e == 1: _scheduleForVecE
    assert mnn_matmul_macs(4096, 6400, 1) == 4096 * 6400  # h == 1: _scheduleForVec


def test_cost_check_refuses_a_small_product():
    # e=48, l=16, h=16: eSub 24, lSub 2, hSub 2; A 768 + B 256 + C 1344 = 2368, x 1.5 = 3552 > save 1024
    assert mnn_matmul_macs(48, 16, 16) == 48 * 16 * 16


def test_one_level_by_hand():
    # 512^3, one level: eSub 252, lSub 64 (l 256), hSub 64 (h 256): save 42 * (3072 + 3072 + 65536)
    # = 3010560 > 1.5 * (258048 + 262144 + 451584); 7 products of 252x256x256, remainE 8 columns x 512 x 512
    one = 7 * 252 * 256 * 256 + 8 * 512 * 512
    assert mnn_matmul_macs(512, 512, 512, max_depth=1) == one
    assert mnn_matmul_macs(512, 512, 512, max_depth=0) == 512 ** 3
    assert mnn_matmul_macs(512, 512, 512) < one  # the sub-products recurse further (up to 5 levels)


def test_padding_of_h_to_whole_panels_is_executed():
    # h = 10 -> hC4 = 3, two 8-wide panels: hMin = min(12, 16) = 12 rows computed
    assert mnn_matmul_macs(100, 20, 10) == 100 * 20 * 12


def test_mnn_orientation_per_phase():
    conv = GemmShape("conv", rows=98, inner=27, outputs=8)
    assert mnn_dims(conv, "forward") == (98, 27, 8)
    assert mnn_dims(conv, "backward_input") == (27, 8, 98)  # the deconv's C (oc*kh*kw, n*ih*iw)
    assert mnn_dims(conv, "backward_weight") == (27, 98, 8)  # BackPropFilter's C (ic*kh*kw, oc)
    lin = GemmShape("matmul", rows=4, inner=800, outputs=400)
    assert mnn_dims(lin, "backward_input") == (4, 400, 800)  # dY * W
    assert mnn_dims(lin, "backward_weight") == (400, 4, 800)  # dY^T * X
    for s in (conv, lin):
        assert {int(np.prod(mnn_dims(s, p))) for p in ("forward", "backward_input", "backward_weight")} == {s.macs}


def test_executed_fraction_and_names():
    big = GemmShape("conv", rows=12544, inner=576, outputs=128)
    assert executed_fraction("direct", (big,), "forward") == 1.0
    assert executed_fraction("mnn-strassen", (), "forward") == 1.0
    f = executed_fraction("mnn-strassen", (big,), "forward")
    assert f == pytest.approx(mnn_matmul_macs(12544, 576, 128) / big.macs) and 0.5 < f < 1.0
    with pytest.raises(BadInputError, match="winograd"):
        check_algorithm("winograd", "x.toml: units.cpu.gemm_algorithm")


def _doc():
    from zerofl_profiler.calibration.published.workloads import count_doc

    return count_doc("mnn-alexnet", 1, "sgd")


def test_counter_rows_carry_their_gemm_shapes_and_scale_with_the_batch():
    from zerofl_profiler.hardware_models.workload import from_layers

    doc = _doc()
    conv2 = next(r for r in doc["layers"] if r["name"] == "3" and r["op_class"] == "gemm")
    assert conv2["gemm"] == [{"kind": "conv", "rows": 26 * 26, "inner": 96 * 25, "outputs": 256}]
    fc = next(r for r in doc["layers"] if r["name"] == "13" and r["op_class"] == "gemm")
    assert fc["gemm"] == [{"kind": "matmul", "rows": 1, "inner": 6400, "outputs": 4096}]
    assert all("gemm" not in r for r in doc["layers"] if r["op_class"] != "gemm")
    prof = from_layers(doc)
    rows8 = prof.at_batch(8)
    i = prof.row_names.index("3:forward")
    assert rows8.gemm[i] == (GemmShape("conv", 8 * 26 * 26, 2400, 256),)
    assert 2 * rows8.gemm[i][0].macs == rows8.flops_dense[i]  # the shape is the counted product


def test_only_a_device_that_names_the_algorithm_is_priced_differently():
    from zerofl_profiler.hardware_models.catalogue import resolve_device
    from zerofl_profiler.hardware_models.pricing import DeviceArrays, price_step
    from zerofl_profiler.hardware_models.workload import from_layers

    rows = from_layers(_doc()).at_batch(16)
    assert resolve_device("snapdragon-865-gpu").gemm_algorithm == "direct"  # a catalogue unit that names none
    cpu = replace(resolve_device("snapdragon-865-cpu"), name="direct", gemm_algorithm="direct")
    assert resolve_device("snapdragon-855-cpu").gemm_algorithm == "mnn-strassen"  # the fitted catalogue file
    mnn = replace(cpu, name="mnn", gemm_algorithm="mnn-strassen")
    dev = DeviceArrays.of([cpu, mnn])
    executed = dev.executed_flops(rows)
    assert np.array_equal(executed[0], rows.flops_dense)
    assert np.all(executed[1] <= rows.flops_dense * 1.2) and executed[1].sum() < 0.95 * rows.flops_dense.sum()
    p = price_step(rows, dev)
    alone = price_step(rows, DeviceArrays.of([cpu]))
    np.testing.assert_allclose(p.phase_s[0], alone.phase_s[0], rtol=1e-12, atol=0)  # a direct device's price does not change
    assert p.phase_s[1].sum() < p.phase_s[0].sum()
    assert np.array_equal(p.phase_flops, alone.phase_flops)  # counted FLOPs stay the counter's
    no_shapes = replace(rows, gemm=())
    assert np.array_equal(DeviceArrays.of([mnn]).executed_flops(no_shapes), rows.flops_dense)
