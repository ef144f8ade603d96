"""One pricing: a published row's fidelity prediction is `compare`'s figure for the same workload, device, precision."""

from __future__ import annotations

from dataclasses import replace

import pytest

from zerofl_profiler.calibration.published.fit import predict_row
from zerofl_profiler.calibration.published.rows import load_rows
from zerofl_profiler.calibration.published.workloads import count_doc, row_workload
from zerofl_profiler.hardware_models import Costing
from zerofl_profiler.hardware_models.catalogue import resolve_device
from zerofl_profiler.hardware_models.rounds import compare_workload

ROWS = {r.id: r for r in load_rows()}


@pytest.mark.parametrize("row_id, device, precision", [
    ("mnn-xiaomi-mnn-lenet-b8", "snapdragon-855-cpu", "fp32"),  # serial dispatch, phone CPU
    ("zeus-v100-shufflenetv2-b64-adam-250w", "v100", "fp32"),  # async dispatch, depthwise rows
    ("zeus-v100-shufflenetv2-b64-adam-250w", "v100", "fp16"),  # 16-bit: GEMM peak and halved bytes
    ("zeus-v100-shufflenetv2-b64-adam-250w", "a100", "tf32"),  # TF32 GEMMs on the Ampere peak
])
def test_fidelity_row_price_is_compares_figure(row_id: str, device: str, precision: str) -> None:
    row = replace(ROWS[row_id], precision=precision)
    fid = predict_row(row, row_workload(row), resolve_device(device))
    # compare counts the batch itself; fidelity scales the batch-1 profile: the same numbers either way
    doc = count_doc(row.model, row.batch, row.optimizer)
    res = compare_workload({0.0: doc}, 1, Costing.from_names([device], precision=precision))
    cost = res.points[0].cost
    assert fid.time_s == pytest.approx(cost.compute_s, rel=1e-9)
    assert fid.energy_j == pytest.approx(cost.compute_energy_j, rel=1e-9)


def test_precision_changes_the_price_the_documented_way() -> None:
    """A device-bound V100 step is faster in fp16 (tensor-core GEMMs, 2-byte tensors); a host-bound one is not
    (async dispatch: its time is the launches'); asking a peak the unit lacks fails."""
    from zerofl_profiler.errors import BadInputError

    v100 = resolve_device("v100")
    big = ROWS["dle-v100-16g-resnet50-fp16-b256-1gpu"]
    work = row_workload(big)
    t32 = predict_row(replace(big, precision="fp32"), work, v100)
    t16 = predict_row(replace(big, precision="fp16"), work, v100)
    assert t16.time_s < 0.6 * t32.time_s and t32.overhead_s == 0.0
    small = ROWS["zeus-v100-shufflenetv2-b8-adam-250w"]
    w8 = row_workload(small)
    s32 = predict_row(replace(small, precision="fp32"), w8, v100)
    s16 = predict_row(replace(small, precision="fp16"), w8, v100)
    assert s32.overhead_s > 0 and s16.time_s == pytest.approx(s32.time_s)
    with pytest.raises(BadInputError, match="peak_flops_tf32"):
        predict_row(replace(big, precision="tf32"), work, v100)
