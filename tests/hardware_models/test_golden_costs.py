"""Every catalogue device's `estimate` and `compare` numbers reproduce the golden file.

golden/golden.json was written by golden/make_golden.py from the cost model before it moved into
hardware_models/; every key and number there must come back (new keys and notes may be added), numbers to
1e-12 relative.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent / "golden"
GOLDEN = json.loads((HERE / "golden.json").read_text(encoding="utf-8"))


def _load_maker() -> Any:
    spec = importlib.util.spec_from_file_location("make_golden", HERE / "make_golden.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def _same(old: Any, new: Any, path: str) -> None:
    if isinstance(old, dict):
        assert isinstance(new, dict), path
        for k, v in old.items():
            assert k in new, f"{path}.{k} missing"
            _same(v, new[k], f"{path}.{k}")
    elif isinstance(old, list) and path.endswith(".notes"):  # prose: every old note still said
        assert set(old) <= set(new), f"{path}: {new!r} lacks some of {old!r}"
    elif isinstance(old, list):
        assert isinstance(new, list) and len(new) == len(old), path
        for i, (a, b) in enumerate(zip(old, new)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(old, float) and not isinstance(old, bool):
        assert isinstance(new, (int, float)) and math.isclose(old, new, rel_tol=1e-12, abs_tol=0.0), \
            f"{path}: {new!r} != golden {old!r}"
    else:
        assert old == new, f"{path}: {new!r} != golden {old!r}"


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_golden(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    maker = _load_maker()
    monkeypatch.setenv("ZEROFL_HOST_DEVICE", "")
    maker.pin_host()
    args = maker.cases()[key]
    assert [a.replace(str(HERE), "<golden>") for a in args] == GOLDEN[key]["args"]
    _same(GOLDEN[key]["doc"], maker.cli_json(args), key)


def test_golden_covers_every_catalogue_device_and_mode() -> None:
    from zerofl_profiler.hardware_models import resolve_device

    names = {resolve_device(n).name for n in _load_maker().device_names()}  # plain name = default mode
    for key in ("estimate_lte", "compare_wifi"):
        priced = {d["device"] for d in GOLDEN[key]["doc"]["devices"]}
        assert set(names) <= priced, set(names) - priced
