"""Optional op classes (grouped conv, pool, norm, top-k kept entries) fall back to a stated class."""

from __future__ import annotations

from pathlib import Path

import pytest

from _devfiles import SRC, device_toml
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.hardware_models.spec import EFFICIENCY_FALLBACK, OP_CLASSES, load_device_file


def _load(tmp_path: Path, extra: str = ""):
    p = tmp_path / "toy.toml"
    p.write_text(device_toml(gemm=0.5, elementwise=0.25) + extra)
    return load_device_file(p).profile()


def test_unstated_classes_take_their_fallback(tmp_path: Path) -> None:
    prof = _load(tmp_path, f"topk = {{value = 0.01, source = {SRC}}}\n")
    assert prof.eff("gemm_grouped") == 0.5  # a grouped conv is priced as a GEMM
    assert prof.eff("pool") == prof.eff("norm") == prof.eff("optimizer") == 0.25  # as elementwise
    assert prof.eff("topk") == 0.01 and prof.eff("topk_kept") == 0.01  # a kept entry as a comparison
    # every optional class has a fallback chain that ends in a required class
    assert set(EFFICIENCY_FALLBACK) == set(OP_CLASSES) - {"gemm", "elementwise"}


def test_stated_classes_win(tmp_path: Path) -> None:
    extra = "".join(f"{c} = {{value = {v}, source = {SRC}}}\n" for c, v in
                    (("gemm_grouped", 0.02), ("pool", 0.003), ("norm", 0.04), ("topk_kept", 0.2)))
    prof = _load(tmp_path, extra)
    assert (prof.eff("gemm_grouped"), prof.eff("pool"), prof.eff("norm"), prof.eff("topk_kept")) == \
        (0.02, 0.003, 0.04, 0.2)
    assert prof.eff("topk") == 0.25  # unstated: elementwise


def test_unknown_class_is_named(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"efficiency\.scatter.*not a known op class"):
        _load(tmp_path, f"scatter = {{value = 0.1, source = {SRC}}}\n")
