"""Memory format: which depthwise kernel a GPU run prices, checked by hand on the catalogue's V100 and A100.

NCHW depthwise = PyTorch's own kernel, at ``peak_flops`` (the FP32 vector units) times
``efficiency.gemm_grouped`` in every precision; channels-last = cuDNN's kernel, the same peak times
``efficiency.gemm_grouped_nhwc`` (falling back to the NCHW efficiency where a unit states none). A
dense convolution runs at the precision's matrix-unit peak in either format. The numbers are read
from the device files' quantities, not from the profile under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.hardware_models import get_device
from zerofl_profiler.hardware_models.pricing import DeviceArrays, roofline
from zerofl_profiler.hardware_models.workload import class_index

MATRIX_PEAK = {("v100", "fp32"): 15.7e12, ("v100", "fp16"): 125e12, ("a100", "fp32"): 19.5e12,
               ("a100", "tf32"): 156e12, ("a100", "fp16"): 312e12}  # datasheet figures the files cite
VECTOR_PEAK = {"v100": 15.7e12, "a100": 19.5e12}
F, B = 4e12, 1e3  # compute-bound rows: 4 TFLOP, 1 kB


def _stated(device: str, key: str) -> float:
    eff = get_device(device).units["gpu"].efficiency
    return float(eff[key].value)


def _half_work(device: str) -> float:
    h = get_device(device).units["gpu"].half_work_flops
    return 0.0 if h is None else float(h.value)


@pytest.mark.parametrize("device,precision", sorted(MATRIX_PEAK))
@pytest.mark.parametrize("memory_format", ["nchw", "nhwc"])
def test_depthwise_by_hand(device: str, precision: str, memory_format: str) -> None:
    p = get_device(device).profile(precision=precision, memory_format=memory_format)
    dev = DeviceArrays.of([p])
    cls = np.array([class_index("gemm_grouped"), class_index("gemm")])
    t = roofline(np.array([F, F]), np.array([B, B]), cls, dev)[0]
    h = _half_work(device)
    grouped_key = "gemm_grouped_nhwc" if memory_format == "nhwc" else "gemm_grouped"
    want_dw = (F + h) / (VECTOR_PEAK[device] * _stated(device, grouped_key))
    want_dense = (F + h) / (MATRIX_PEAK[(device, precision)] * _stated(device, "gemm"))
    assert t.tolist() == pytest.approx([want_dw, want_dense], rel=1e-12)
    assert p.bytes_scale("gemm_grouped") == (0.5 if precision == "fp16" else 1.0)  # 16-bit tensors under AMP
    assert p.precision_of("gemm_grouped") == ("fp16" if precision == "fp16" else "fp32")  # TF32: matrix units only
    assert p.assumptions()["memory_format"] == memory_format


@pytest.mark.parametrize("device", ["v100", "a100"])
def test_the_formats_differ_on_the_fitted_gpus(device: str) -> None:
    """The catalogue's GPUs state a channels-last efficiency of their own (fitted, cited)."""
    spec = get_device(device)
    q = spec.units["gpu"].efficiency["gemm_grouped_nhwc"]
    assert q.source.kind == "measured" and q.value != spec.units["gpu"].efficiency["gemm_grouped"].value
    assert "dle-" in q.source.quote and "fp16" in q.source.quote


def test_v100_has_no_tf32() -> None:
    with pytest.raises(BadInputError, match="peak_flops_tf32"):
        get_device("v100").profile(precision="tf32", memory_format="nhwc")


@pytest.mark.parametrize("device", ["snapdragon-855", "snapdragon-865", "host", "jetson-nano"])
def test_memory_format_does_not_move_phones_and_cpus(device: str) -> None:
    """No unit of theirs states a channels-last efficiency: every op class prices the same in both formats."""
    spec = get_device(device)
    for unit in spec.units:
        a = DeviceArrays.of([spec.profile(unit, memory_format="nchw")])
        b = DeviceArrays.of([spec.profile(unit, memory_format="nhwc")])
        assert np.array_equal(a.eff, b.eff) and np.array_equal(a.peak_class, b.peak_class)


def test_bad_memory_format_is_one_line() -> None:
    with pytest.raises(BadInputError, match=r"^--memory-format 'nwhc': must be one of nchw, nhwc$"):
        get_device("v100").profile(memory_format="nwhc")
