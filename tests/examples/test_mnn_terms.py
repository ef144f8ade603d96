"""benchmarks/mnn_terms.py: its variants change only the mnn rows, the way their docstrings say."""

from __future__ import annotations

import numpy as np

from _scripts import load_script


def _terms():
    return load_script("benchmarks/mnn_terms.py", "mnn_terms_script")


def test_variants_touch_only_mnn_rows():
    from zerofl_profiler.calibration.published.rows import load_rows
    from zerofl_profiler.calibration.published.workloads import row_workload
    from zerofl_profiler.hardware_models.gemm_algorithms import GemmShape

    t = _terms()
    rows = load_rows()
    lenet = next(r for r in rows if r.runtime == "mnn" and r.model == "mnn-lenet" and r.batch == 4)
    base = row_workload(lenet)
    shipped = t.variant_work("mnn-strassen")(lenet)
    assert shipped.gemm == base.gemm and np.array_equal(shipped.nbytes, base.nbytes)
    assert t.variant_work("direct")(lenet).gemm == ()
    im = t.variant_work("im2col")(lenet)
    conv1 = GemmShape("conv", 4 * 24 * 24, 25, 20)
    i = [k for k, s in enumerate(base.gemm) if s == (conv1,)]
    assert i and all(im.nbytes[k] == base.nbytes[k] + 3 * 4 * 25 * 4 * 24 * 24 for k in i)  # no input grad
    lin = [k for k, s in enumerate(base.gemm) if s and s[0].kind == "matmul"]
    assert lin and np.array_equal(im.nbytes[lin], base.nbytes[lin])
    other = next(r for r in rows if r.runtime != "mnn")
    assert np.array_equal(t.variant_work("im2col")(other).nbytes, row_workload(other).nbytes)
