"""The built-in TOML writer reads back, through tomllib, to the document tomli_w's text reads back to."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from zerofl_profiler.tomlwrite import dumps, dumps_builtin

CATALOGUE = Path(__file__).resolve().parents[1] / "zerofl_profiler" / "hardware_models" / "catalogue"


def _docs():
    from zerofl_profiler.config import RunConfig

    cfg = RunConfig(clients=7, sparsity=0.8, dense_layers=("conv1", "fc"))
    yield cfg.to_toml_dict(run_id="r-1", environment={"torch": "2.13", "accelerator": {"device": "cpu", "name": "cpu"},
                                                       "cpu_count": 2}, partition_stats={"sizes": [1, 2, 3]})
    for f in sorted(CATALOGUE.glob("*.toml")):  # every shipped device file, tables and inline tables
        yield tomllib.loads(f.read_text(encoding="utf-8"))
    yield {"odd key": "quote \" back\\slash \n tab\t del\x7f é 🙂", "x": {"empty": {}, "f": [1.5, -0.0, 1e-05, 1e16]},
           "nums": [True, False, 0, -3], "rows": [{"a": 1, "b": "c"}, {"a": 2}]}


@pytest.mark.parametrize("doc", list(_docs()), ids=lambda d: str(d.get("name", d.get("run_id", "misc"))))
def test_builtin_writer_round_trips(doc) -> None:
    back = tomllib.loads(dumps_builtin(doc))
    assert back == doc
    assert back == tomllib.loads(dumps(doc))  # and agrees with the writer in use


def test_non_finite_floats_and_none() -> None:
    back = tomllib.loads(dumps_builtin({"a": math.inf, "b": -math.inf, "c": math.nan, "d": None, "t": {"e": None}}))
    assert back["a"] == math.inf and back["b"] == -math.inf and math.isnan(back["c"]) and "d" not in back
    assert back["t"] == {}
    with pytest.raises(TypeError, match="x: cannot write"):
        dumps_builtin({"x": object()})
