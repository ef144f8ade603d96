"""The vocabulary is defined once: every registry keyed by one of its names matches it."""

from __future__ import annotations

from zerofl_profiler import vocab


def test_fl_registries_match_vocab():
    from zerofl_profiler.fl.aggregate import AGGREGATORS
    from zerofl_profiler.fl.data import DATASETS
    from zerofl_profiler.fl.partition import PARTITIONS

    assert tuple(DATASETS) == vocab.DATASETS
    assert tuple(n for n, s in DATASETS.items() if s.needs_data_dir) == vocab.DATA_DIR_DATASETS
    assert tuple(AGGREGATORS) == vocab.AGGREGATIONS
    assert tuple(PARTITIONS) == vocab.PARTITIONS


def test_config_is_torch_free():
    import subprocess
    import sys

    code = ("import sys, zerofl_profiler.config as c; c.RunConfig(); "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)[:3]")
    subprocess.run([sys.executable, "-c", code], check=True)
