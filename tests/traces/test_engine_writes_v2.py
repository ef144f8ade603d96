"""The engine writes version-2 run directories: [trace] once, lean lines, peak RSS where Linux has it."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path

import jsonschema
import pytest

from zerofl_profiler.errors import ConfigError
from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.engine import run, stored_config
from zerofl_profiler.power.memory import PROC_SELF
from zerofl_profiler.traces import SCHEMA_VERSION, load_run
from zerofl_profiler.traces.schema_file import build_schema

FIXTURES = Path(__file__).parent / "fixtures"
LINUX_PEAK = os.access(PROC_SELF / "clear_refs", os.W_OK)


@pytest.mark.slow
def test_engine_run_is_schema_v2(tmp_path: Path) -> None:
    cfg = RunConfig(clients=3, clients_per_round=2, rounds=1, batch_size=64, sparsity=0.9, upload="topk-weights",
                    encoding="bitmask", energy="auto")
    out = tmp_path / "run"
    run(cfg, out, progress=False)
    table = tomllib.loads((out / "config.toml").read_text())["trace"]
    assert table["engine"] == "inprocess" and table["upload"] == "topk-weights" and table["encoding"] == "bitmask"
    assert table["model"] == cfg.model and table["precision"] == "float32" and table["schema_version"] == 2
    assert table["energy_skipped"]  # this machine has no NVML at least
    schema = build_schema()
    for line in (out / "trace.jsonl").read_text().splitlines():
        obj = json.loads(line)
        jsonschema.validate(obj, schema)
        assert obj["schema_version"] == SCHEMA_VERSION
        assert not {"engine", "upload", "encoding"} & set(obj)
        assert "skipped" not in obj["energy"]  # the run's reasons live in [trace]
    data = load_run(out)
    for c in data.clients:
        assert c.energy.skipped == table["energy_skipped"]
        if LINUX_PEAK:
            assert c.mem_source == "rss" and c.peak_mem_bytes > 10 * 2**20  # torch alone is bigger
        else:
            assert c.mem_source == "none" and c.peak_mem_bytes is None


def test_resuming_a_v1_run_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "v1"
    shutil.copytree(FIXTURES / "v1_dense", out)
    cfg = stored_config(out)
    with pytest.raises(ConfigError, match="trace schema version 1"):
        run(cfg, out, resume=True, progress=False)
