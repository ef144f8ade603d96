"""What a size-dependent depthwise efficiency buys on the published GPU rows (in-sample, GPU class only).

The fit adds one class-wide parameter when the rows hold depthwise convolutions: the depthwise rows'
own saturating-curve constant ``h_g`` (a ``gemm_grouped`` row of F FLOPs runs at
``eta_grouped * F / (F + h_g)``, pricing.DeviceArrays.row_half_work). This script fits the GPU rows
under the memory-format rule (depthwise at ``peak_flops``, one ratio per memory format) and, with
``--matrix-peak``, under depthwise at the matrix-unit peak of the run's precision with one ratio
(every row NCHW), and prints the class's rms log error, the rows within 1.5x, the fitted ratios and
``h_g``, and the EfficientNet rows' ratios and the misses::

    PYTHONPATH=. .venv/bin/python benchmarks/gpu_depthwise_curve.py [--matrix-peak]

About 2.5 minutes on the 2-core build host (one in-sample fit, no held-out refits).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from gpu_depthwise_peak import matrix_peak

from zerofl_profiler.calibration.published.declared import declared_units
from zerofl_profiler.calibration.published.exclusions import Context, exclusion_of
from zerofl_profiler.calibration.published.fidelity import mode_of
from zerofl_profiler.calibration.published.fit import fit_all, predict_row, unit_model
from zerofl_profiler.calibration.published.rows import load_rows
from zerofl_profiler.calibration.published.workloads import row_workload
from zerofl_profiler.hardware_models.records import DeviceProfile


def main() -> None:
    """Fit the GPU rows once and print the fit, the EfficientNet rows and the misses."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matrix-peak", action="store_true")
    args = ap.parse_args()
    rows = load_rows()
    declared = declared_units([(r.device, r.unit) for r in rows])
    ctx = Context.of(rows, frozenset(declared))
    gpu = [r for r in rows if exclusion_of(r, ctx) is None and declared[(r.device, r.unit)].device_class == "gpu"]
    if args.matrix_peak:
        gpu = [replace(r, memory_format="nchw") for r in gpu]
        DeviceProfile.peak = matrix_peak  # type: ignore[method-assign]
    work = {r.id: row_workload(r) for r in gpu}
    modes = {r.id: mode_of(r, ctx) for r in gpu}
    cf = fit_all(gpu, work, declared, modes)["gpu"]
    units = {r.id: unit_model(declared[(r.device, r.unit)], cf, modes[r.id]) for r in gpu}
    ratio = {r.id: predict_row(r, work[r.id], units[r.id]).time_s / r.step_s for r in gpu}
    within = sum(1 / 1.5 <= x <= 1.5 for x in ratio.values())
    print(f"rms log error {cf.rms_log_error:.3f}, {within}/{len(gpu)} within 1.5x, gemm_grouped/gemm "
          f"{cf.grouped_ratio}, gemm_grouped_nhwc/gemm {cf.grouped_nhwc_ratio}, half_work_grouped_flops "
          f"{cf.half_work_grouped_flops}, fitted {cf.fitted}")
    for r in gpu:
        if "efficientnet" in r.model or not 1 / 1.5 <= ratio[r.id] <= 1.5:
            print(f"   {r.id:58s} {ratio[r.id]:.2f}")


if __name__ == "__main__":
    main()
