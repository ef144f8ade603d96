"""benchmarks/gpu_depthwise_peak.py: its rules price depthwise rows the way its docstring says."""

from __future__ import annotations

import pytest

from _scripts import load_script

from zerofl_profiler.hardware_models import get_device
from zerofl_profiler.hardware_models.records import DeviceProfile


def _script():
    return load_script("benchmarks/gpu_depthwise_peak.py", "gpu_depthwise_peak_script")


@pytest.mark.parametrize("device,precision,matrix_peak", [("v100", "fp16", 125e12), ("a100", "tf32", 156e12),
                                                          ("a100", "fp16", 312e12)])
def test_rules_by_hand(device: str, precision: str, matrix_peak: float) -> None:
    """Shipped: depthwise and dense convolutions at the datasheet tensor-core peak; vector: depthwise at
    peak_flops (V100 15.7, A100 19.5 TFLOP/s), the dense convolution still at the tensor-core peak."""
    t = _script()
    p = get_device(device).profile(precision=precision)
    fp32 = {"v100": 15.7e12, "a100": 19.5e12}[device]
    assert p.peak_flops == fp32
    assert t.RULES["shipped"](p, "gemm") == matrix_peak and t.RULES["shipped"](p, "gemm_grouped") == matrix_peak
    assert t.RULES["vector"](p, "gemm") == matrix_peak and t.RULES["vector"](p, "gemm_grouped") == fp32
    assert t.RULES["vector"](p, "elementwise") == fp32
    assert p.bytes_scale("gemm_grouped") == (0.5 if precision == "fp16" else 1.0)  # tensors: the precision's


def test_report_restores_the_shipped_rule() -> None:
    """A variant is applied only while it fits: the cost model's rule is back afterwards, even on an error."""
    t = _script()
    shipped = DeviceProfile.peak
    with pytest.raises(KeyError):
        t.report("vector", [], {}, {}, {}, "no rows")  # no GPU fit to read
    assert DeviceProfile.peak is shipped
