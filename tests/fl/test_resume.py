"""--resume after a SIGKILL gives the same model and records (timings aside) as an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from zerofl_profiler.errors import ConfigError
from zerofl_profiler.fl.checkpoint import load_checkpoint
from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.engine import run

OPTS = dict(clients=5, clients_per_round=3, rounds=3, batch_size=32, upload="topk-diff", mask_ratio=0.1)
TIMING = {"wall_time_s", "peak_mem_bytes", "accelerator_time_s", "cpu_time_s", "timestamp", "run_id", "energy", "energy_estimate", "extra", "aggregation_time_s",
          "round_wall_time_s"}

# Kills itself with SIGKILL at a chosen point of round 2, leaving a torn last trace line.
KILLER = textwrap.dedent("""
    import json, os, signal, sys
    from zerofl_profiler.fl import engine
    from zerofl_profiler.config import RunConfig

    out, where = sys.argv[1], sys.argv[2]
    cfg = RunConfig(**json.loads(sys.argv[3]))

    def die(run_dir):
        with open(os.path.join(run_dir, "trace.jsonl"), "a") as fh:
            fh.write('{"schema_version": 1, "kind": "client_ro')
            fh.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    real_record, real_ckpt = engine.RunContext.record_client, engine.save_checkpoint

    def record(self, result):
        real_record(self, result)
        if where == "mid-round" and result.record.round == 2:
            die(self.run_dir)

    def ckpt(run_dir, c):
        if where == "before-checkpoint" and c.round == 2:
            die(run_dir)
        real_ckpt(run_dir, c)

    engine.RunContext.record_client = record
    engine.save_checkpoint = ckpt
    engine.run(cfg, out, progress=False)
""")


def _lines(path):
    return [{k: v for k, v in json.loads(x).items() if k not in TIMING} for x in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    run(RunConfig(**OPTS), out, progress=False)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("where", ["mid-round", "before-checkpoint"])
def test_sigkill_then_resume_equals_uninterrupted(tmp_path, reference, where):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", KILLER, str(out), where, json.dumps(OPTS)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    assert load_checkpoint(out).round == 1  # round 2 was not finished
    assert not (out / "trace.jsonl").read_text().endswith("\n")  # the torn line is there
    summary = run(RunConfig(**OPTS), out, resume=True, progress=False)
    assert summary.resumed_from_round == 1 and summary.rounds_completed == 3
    assert _lines(out / "trace.jsonl") == _lines(reference / "trace.jsonl")
    assert _lines(out / "rounds.jsonl") == _lines(reference / "rounds.jsonl")
    got, want = load_checkpoint(out), load_checkpoint(reference)
    assert got.round == want.round == 3
    for k in want.global_state:
        np.testing.assert_array_equal(got.global_state[k], want.global_state[k], err_msg=k)
    run_ids = {json.loads(x)["run_id"] for x in (out / "trace.jsonl").read_text().splitlines()}
    assert len(run_ids) == 1  # the resumed records keep the run's id


def test_resume_refuses_a_different_config_and_finished_run_is_a_no_op(reference):
    with pytest.raises(ConfigError, match="rounds"):
        run(RunConfig(**{**OPTS, "rounds": 4}), reference, resume=True, progress=False)
    before = (reference / "trace.jsonl").read_text()
    s = run(RunConfig(**OPTS), reference, resume=True, progress=False)
    assert s.already_finished and s.rounds_completed == 3
    assert (reference / "trace.jsonl").read_text() == before
