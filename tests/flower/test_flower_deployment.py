"""A real deployment: SuperLink + two SuperNodes on 127.0.0.1, two rounds through `flwr run`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.sampling import sample_clients
from zerofl_profiler.traces.run import load_run

pytestmark = [pytest.mark.slow, pytest.mark.flower]


def _wait_rounds(dep, out: Path, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    rounds = out / "rounds.jsonl"
    while time.monotonic() < deadline:
        dep.snapshot()
        if rounds.is_file() and len(rounds.read_text().splitlines()) >= n:
            return
        time.sleep(0.5)
    pytest.fail(f"{n} rounds not written within {timeout:g} s\n{dep.logs()}")


def test_two_rounds_on_a_real_superlink(local_deployment, tmp_path):
    dep = local_deployment
    cfg = RunConfig(clients=2, clients_per_round=2, rounds=2, upload="topk-weights", encoding="csr", seed=3)
    cfg_path = tmp_path / "run.toml"
    cfg_path.write_text(cfg.to_toml_text())
    out = tmp_path / "run"

    dep.superlink()
    for pid in range(cfg.clients):
        dep.supernode(pid, cfg.clients)
    res = dep.flwr_run(f'config="{cfg_path}"', f'out-dir="{out}"', "wait-nodes-s=90.0")
    assert res.returncode == 0, res.stdout + res.stderr + dep.logs()
    assert "Successfully started run" in res.stdout
    _wait_rounds(dep, out, cfg.rounds, timeout=240)
    time.sleep(1.0)  # let the ServerApp close its files

    run = load_run(out)
    assert run.config.engine == "flower" and run.config.clients == 2
    assert [r.round for r in run.rounds] == [1, 2]
    for r in run.rounds:
        assert r.engine == "flower"
        assert r.sampled_clients == sample_clients(cfg.seed, r.round, cfg.clients, cfg.clients_per_round)
        assert r.completed_clients == r.sampled_clients and r.failed_clients == []
        assert r.test_accuracy is not None and 0.0 <= r.test_accuracy <= 1.0
    assert len(run.clients) == 4 and run.trace.engine == "flower"
    for c in run.clients:
        assert c.status == "ok" and c.run_id == run.run_id
        assert c.steps > 0 and c.flops["sparse"]["total"] < c.flops["dense"]["total"]
        assert 0 < c.bytes_up < c.bytes_up_dense == c.bytes_down
    assert run.layers is not None and (out / "checkpoint.pt").is_file()
