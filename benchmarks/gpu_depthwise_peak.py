"""Which peak the GPU rows want depthwise convolutions priced at, and what the shipped rule hides.

The cost model prices both GEMM classes (``gemm`` and the depthwise ``gemm_grouped``) at the peak of
the run's precision (``DeviceProfile.peak``): the TF32 or FP16 tensor-core peak in a TF32 or AMP row.
PyTorch does not run depthwise convolutions on cuBLAS/cuDNN GEMMs: ``ConvParams::is_depthwise``
sends them to its own CUDA kernel (``aten/src/ATen/native/cuda/DepthwiseConv2d.cu``, multiply-adds in
``acc_type`` = float) unless ``use_cudnn_depthwise`` holds (channels-last tensors, or FP16 NCHW
layers passing its size heuristic), when cuDNN runs them. DeepLearningExamples' AMP rows run
channels-last (``configs.yml``: ``memory_format: nhwc``), its FP32/TF32 rows NCHW, so the two
precisions of one EfficientNet run different depthwise kernels.

This script fits the GPU rows in-sample (the GPU class only: its fit never sees the phone's rows)
under two rules for ``gemm_grouped`` and prints, per rule, the class's rms log error, the rows within
1.5x, the fitted ``gemm_grouped / gemm`` ratio and per-device ``efficiency.gemm`` and bandwidth, the
EfficientNet rows' ratios, and the predicted time of one EfficientNet-B0 row per device and precision
split by op class (and the share of it that is memory-bound):

* ``shipped``: the model as it is (the precision's peak, tensor cores under TF32/AMP);
* ``vector``: ``peak_flops`` (the FP32 vector units) in every precision, 16-bit tensors under AMP;

each on every GPU row, on the rows without ShuffleNetV2 (Zeus's CIFAR-100 network, whose depthwise
layers run on 32x32 images) and on DeepLearningExamples' rows alone (without Zeus's 196 V100 rows)::

    PYTHONPATH=. .venv/bin/python benchmarks/gpu_depthwise_peak.py

About 2.5 minutes on the 2-core build host (six in-sample fits, no held-out refits).
"""

from __future__ import annotations

from typing import Callable

from zerofl_profiler.calibration.published.declared import declared_units
from zerofl_profiler.calibration.published.exclusions import Context, exclusion_of
from zerofl_profiler.calibration.published.fidelity import mode_of
from zerofl_profiler.calibration.published.fit import fit_all, predict_row, unit_model
from zerofl_profiler.calibration.published.rows import load_rows
from zerofl_profiler.calibration.published.workloads import row_workload
from zerofl_profiler.hardware_models.pricing import DeviceArrays, roofline
from zerofl_profiler.hardware_models.records import OP_CLASSES, DeviceProfile

SHIPPED_PEAK = DeviceProfile.peak


def vector_peak(self: DeviceProfile, op_class: str) -> float:
    """``gemm_grouped`` at ``peak_flops`` whatever its precision; every other class as shipped."""
    return self.peak_flops if op_class == "gemm_grouped" else SHIPPED_PEAK(self, op_class)


RULES: dict[str, Callable[[DeviceProfile, str], float]] = {"shipped": SHIPPED_PEAK, "vector": vector_peak}
BREAKDOWN = ("dle-v100-16g-efficientnet-b0-fp32-b64-1gpu", "dle-v100-16g-efficientnet-b0-fp16-b128-1gpu",
             "dle-a100-80g-efficientnet-b0-tf32-b256-1gpu", "dle-a100-80g-efficientnet-b0-fp16-b256-1gpu")


def report(rule: str, rows: list, work: dict, declared: dict, modes: dict, label: str) -> None:
    """Fit ``rows`` under ``rule`` and print the fit, the EfficientNet ratios and the breakdown."""
    DeviceProfile.peak = RULES[rule]  # type: ignore[method-assign]
    try:
        cf = fit_all(rows, work, declared, modes)["gpu"]
        units = {r.id: unit_model(declared[(r.device, r.unit)], cf, modes[r.id]) for r in rows}
        ratio = {r.id: predict_row(r, work[r.id], units[r.id]).time_s / r.step_s for r in rows}
        within = sum(1 / 1.5 <= x <= 1.5 for x in ratio.values())
        print(f"== {rule}, {label}: rms log error {cf.rms_log_error:.3f}, {within}/{len(rows)} within 1.5x, "
              f"gemm_grouped/gemm {cf.grouped_ratio:.4g}")
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
            u = units[rid].with_precision(r.precision)
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
    """Both rules on every GPU row, then on DeepLearningExamples' rows alone."""
    rows = load_rows()
    declared = declared_units([(r.device, r.unit) for r in rows])
    ctx = Context.of(rows, frozenset(declared))
    gpu = [r for r in rows if exclusion_of(r, ctx) is None and declared[(r.device, r.unit)].device_class == "gpu"]
    work = {r.id: row_workload(r) for r in gpu}
    modes = {r.id: mode_of(r, ctx) for r in gpu}
    dle = [r for r in gpu if r.source.repository == "NVIDIA/DeepLearningExamples"]
    no_shuffle = [r for r in gpu if not r.model.startswith("shufflenet")]
    for rule in RULES:
        report(rule, gpu, work, declared, modes, f"all {len(gpu)} GPU rows")
        report(rule, no_shuffle, work, declared, modes, f"the {len(no_shuffle)} rows without ShuffleNetV2")
        report(rule, dle, work, declared, modes, f"DeepLearningExamples' {len(dle)} rows")


if __name__ == "__main__":
    main()
