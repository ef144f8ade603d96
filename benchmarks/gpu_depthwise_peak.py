"""What modelling the depthwise kernel by memory format buys on the published GPU rows.

The cost model prices depthwise convolutions (``gemm_grouped``) at ``peak_flops`` (the FP32 vector
units) in every precision, with one efficiency per memory format: NCHW runs PyTorch's own CUDA kernel
(``aten/src/ATen/native/cuda/DepthwiseConv2d.cu``, multiply-adds in ``acc_type`` = float), channels-last
runs cuDNN's depthwise kernels (``use_cudnn_depthwise``). DeepLearningExamples' AMP rows run channels-last
(``configs.yml``: ``memory_format: nhwc``), its FP32/TF32 rows and Zeus's rows NCHW (rows.toml,
``memory_format``), so the two precisions of one EfficientNet run different depthwise kernels.

This script fits the GPU rows in-sample (the GPU class only: its fit never sees the phone's rows)
under three rules and prints, per rule, the class's rms log error, the rows within 1.5x, the fitted
depthwise ratios and per-device ``efficiency.gemm`` and bandwidth, the EfficientNet rows' ratios, and
the predicted time of one EfficientNet-B0 row per device and precision split by op class (and the
share of it that is memory-bound):

* ``shipped``: the model as it is (vector peak; one ratio per memory format);
* ``one-ratio``: the vector peak with one depthwise ratio shared by both formats (every row NCHW);
* ``matrix-peak``: depthwise at the matrix-unit peak of the run's precision (tensor cores under
  TF32/AMP) with one shared ratio;

each on every GPU row and on the rows without ShuffleNetV2 (Zeus's CIFAR-100 network, whose depthwise
layers run on 32x32 images)::

    PYTHONPATH=. .venv/bin/python benchmarks/gpu_depthwise_peak.py

About 2.5 minutes on the 2-core build host (six in-sample fits, no held-out refits).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from zerofl_profiler.calibration.published.declared import declared_units
from zerofl_profiler.calibration.published.exclusions import Context, exclusion_of
from zerofl_profiler.calibration.published.fidelity import mode_of
from zerofl_profiler.calibration.published.fit import fit_all, predict_row, unit_model
from zerofl_profiler.calibration.published.rows import load_rows
from zerofl_profiler.calibration.published.workloads import row_workload
from zerofl_profiler.hardware_models.pricing import DeviceArrays, roofline
from zerofl_profiler.hardware_models.records import OP_CLASSES, DeviceProfile
from zerofl_profiler.vocab import GEMM_CLASSES

SHIPPED_PEAK = DeviceProfile.peak


def matrix_peak(self: DeviceProfile, op_class: str) -> float:
    """Both GEMM classes (depthwise too) at the run's matrix-unit peak (``gemm``'s precision: TF32 too);
    every other class as shipped."""
    p = self.precision_of("gemm")
    if op_class in GEMM_CLASSES and p != "fp32":
        return self.peaks.get(p, self.peak_flops)
    return SHIPPED_PEAK(self, op_class)


#: rule -> (the peak each op class is priced at, whether the rows keep their memory format)
RULES: dict[str, tuple[Callable[[DeviceProfile, str], float], bool]] = {
    "shipped": (SHIPPED_PEAK, True), "one-ratio": (SHIPPED_PEAK, False), "matrix-peak": (matrix_peak, False)}
BREAKDOWN = ("dle-v100-16g-efficientnet-b0-fp32-b64-1gpu", "dle-v100-16g-efficientnet-b0-fp16-b128-1gpu",
             "dle-a100-80g-efficientnet-b0-tf32-b256-1gpu", "dle-a100-80g-efficientnet-b0-fp16-b256-1gpu")


def report(rule: str, rows: list, work: dict, declared: dict, modes: dict, label: str) -> None:
    """Fit ``rows`` under ``rule`` and print the fit, the EfficientNet ratios and the breakdown."""
    peak, keep_format = RULES[rule]
    if not keep_format:
        rows = [replace(r, memory_format="nchw") for r in rows]
    DeviceProfile.peak = peak  # type: ignore[method-assign]
    try:
        cf = fit_all(rows, work, declared, modes)["gpu"]
        units = {r.id: unit_model(declared[(r.device, r.unit)], cf, modes[r.id]) for r in rows}
        ratio = {r.id: predict_row(r, work[r.id], units[r.id]).time_s / r.step_s for r in rows}
        within = sum(1 / 1.5 <= x <= 1.5 for x in ratio.values())
        print(f"== {rule}, {label}: rms log error {cf.rms_log_error:.3f}, {within}/{len(rows)} within 1.5x, "
              f"gemm_grouped/gemm {cf.grouped_ratio:.4g}"
              + (f", gemm_grouped_nhwc/gemm {cf.grouped_nhwc_ratio:.4g}" if cf.grouped_nhwc_ratio else ""))
        for (dev, unit, mode), d in sorted(cf.devices.items(), key=lambda kv: str(kv[0])):
            if mode is None:
                print(f"   {dev}-{unit}: efficiency.gemm {d.gemm_efficiency:.3f}, "
                      f"mem_bandwidth {d.mem_bandwidth_bytes_per_s / 1e9:.0f} GB/s")
        for r in rows:
            if "efficientnet" in r.model:
                print(f"   {r.id:58s} {ratio[r.id]:.2f}")
        for rid in BREAKDOWN:
            r = next((x for x in rows if x.id == rid), None)
            if r is None:
                continue
            u = units[rid].with_precision(r.precision).with_memory_format(r.memory_format)
            st, dev = work[rid], DeviceArrays.of([u])
            roof = roofline(dev.executed_flops(st), st.nbytes, st.row_class, dev)[0]
            mem = dev.row_bytes(st.nbytes, st.row_class)[0] / dev.bw[0] >= roof * (1 - 1e-9)
            parts = [f"{c} {roof[m].sum() * 1e3:.1f} ms ({roof[m & mem].sum() / roof[m].sum():.0%} memory-bound)"
                     for i, c in enumerate(OP_CLASSES) if (m := st.row_class == i).any() and roof[m].sum() > 0]
            print(f"   {rid}: measured {r.step_s * 1e3:.1f} ms, predicted "
                  f"{predict_row(r, st, units[rid]).time_s * 1e3:.1f} ms: " + "; ".join(parts))
    finally:
        DeviceProfile.peak = SHIPPED_PEAK  # type: ignore[method-assign]


def main() -> None:
    """Every rule on every GPU row, then on the rows without ShuffleNetV2."""
    rows = load_rows()
    declared = declared_units([(r.device, r.unit) for r in rows])
    ctx = Context.of(rows, frozenset(declared))
    gpu = [r for r in rows if exclusion_of(r, ctx) is None and declared[(r.device, r.unit)].device_class == "gpu"]
    work = {r.id: row_workload(r) for r in gpu}
    modes = {r.id: mode_of(r, ctx) for r in gpu}
    no_shuffle = [r for r in gpu if not r.model.startswith("shufflenet")]
    for rule in RULES:
        report(rule, gpu, work, declared, modes, f"all {len(gpu)} GPU rows")
        report(rule, no_shuffle, work, declared, modes, f"the {len(no_shuffle)} rows without ShuffleNetV2")


if __name__ == "__main__":
    main()
