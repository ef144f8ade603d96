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
    """fp16 on the V100 is faster than fp32 (tensor-core GEMMs, 2-byte tensors); asking a peak it lacks fails."""
    from zerofl_profiler.errors import BadInputError

    row = ROWS["zeus-v100-shufflenetv2-b64-adam-250w"]
    work = row_workload(row)
    v100 = resolve_device("v100")
    t32 = predict_row(replace(row, precision="fp32"), work, v100).time_s
    t16 = predict_row(replace(row, precision="fp16"), work, v100).time_s
    assert t16 < t32
    with pytest.raises(BadInputError, match="peak_flops_tf32"):
        predict_row(replace(row, precision="tf32"), work, v100)
