"""The in-process engine: run directory contents, FedAvg of real clients, client-error policies."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zerofl_profiler.errors import ConfigError, TrainingError
from zerofl_profiler.fl import engine as engine_mod
from zerofl_profiler.fl.checkpoint import load_checkpoint
from zerofl_profiler.fl.client import train_client
from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.engine import run
from zerofl_profiler.traces import load_run

def client_tensor(upload, key):
    """A dense upload's tensor as float64 (encoded dense payloads hold the values unchanged)."""
    if key in upload.raw:
        return upload.raw[key].numpy().astype(np.float64)
    t = upload.encoded[key]
    assert t.kind == "dense"
    return t.payload["values"].numpy().astype(np.float64).reshape(t.shape)


SMALL = dict(clients=4, clients_per_round=2, rounds=2, batch_size=32, eval_batch_size=512)


def test_run_writes_a_valid_run_directory(tmp_path):
    cfg = RunConfig(**SMALL, upload="topk-weights", mask_ratio=0.1)
    out = tmp_path / "run"
    summary = run(cfg, out, progress=False)
    data = load_run(out)
    assert len(data.clients) == 4 and len(data.rounds) == 2
    assert {c.round for c in data.clients} == {1, 2}
    assert all(c.run_id == summary.run_id == data.run_id for c in data.clients)
    assert data.config == cfg.with_updates(accelerator="cpu")  # the typed RunConfig, with the device it resolved to
    env = data.stored.environment
    for key in ("package_version", "torch_version", "cpu_model", "torch_threads", "python_version"):
        assert key in env
    assert sum(data.stored.partition_stats["sizes"]) > 0
    assert data.layers is not None and data.layers.layers
    assert {r.op_class for r in data.layers.layers} >= {"gemm", "optimizer"}  # stored by the counter
    for r in data.rounds:
        assert 0.0 <= r.test_accuracy <= 1.0 and len(r.sampled_clients) == 2
        assert r.lr == pytest.approx(cfg.lr_for_round(r.round))
    assert summary.rounds_completed == 2 and summary.final_accuracy == data.rounds[-1].test_accuracy
    assert summary.bytes_up < summary.bytes_up_dense
    assert load_checkpoint(out).round == 2
    with pytest.raises(ConfigError, match="already exists"):
        run(cfg, out, progress=False)


def test_dense_fedavg_over_all_clients_matches_hand_average(tmp_path):
    """K = N, dense upload, one round: the new global model is the sample-weighted client mean."""
    cfg = RunConfig(clients=3, clients_per_round=3, rounds=1, upload="dense", batch_size=64)
    ctx = engine_mod.setup_run(cfg, tmp_path / "run")
    start = {k: v.cpu().numpy().copy() for k, v in ctx.global_state.items()}
    ctx.close()
    results = [train_client(start, ctx.clients[c], cfg, 1, c) for c in range(3)]
    n = sum(len(ctx.clients[c]) for c in range(3))
    expect = {}
    for k, v in start.items():  # dense upload: the client's trained tensors, plain weighted mean
        acc = sum(len(ctx.clients[c]) / n * client_tensor(results[c].upload, k) for c in range(3))
        expect[k] = np.rint(acc).astype(v.dtype) if v.dtype.kind in "iu" else acc.astype(v.dtype)
    out = tmp_path / "run2"
    run(cfg, out, progress=False)
    got = load_checkpoint(out).global_state
    for k in expect:
        np.testing.assert_allclose(got[k], expect[k], rtol=1e-6, atol=1e-7, err_msg=k)


def _poison_client(monkeypatch, victim: int):
    real = engine_mod.train_client

    def fake(global_state, client, cfg, rnd, cid, meter=None, **kw):
        if cid == victim:
            global_state = {k: (v * float("nan") if v.is_floating_point() else v) for k, v in global_state.items()}
        return real(global_state, client, cfg, rnd, cid, meter, **kw)

    monkeypatch.setattr(engine_mod, "train_client", fake)


def test_on_client_error_skip_and_stop(tmp_path, monkeypatch):
    cfg = RunConfig(clients=3, clients_per_round=3, rounds=1, on_client_error="skip", batch_size=64)
    _poison_client(monkeypatch, 1)
    out = tmp_path / "skip"
    s = run(cfg, out, progress=False)
    rnd = json.loads((out / "rounds.jsonl").read_text())
    assert rnd["failed_clients"] == [1] and rnd["completed_clients"] == [0, 2]
    assert s.client_rounds_failed == 1 and s.client_rounds_ok == 2
    stop = tmp_path / "stop"
    with pytest.raises(TrainingError, match="client 1 failed in round 1.*NaN"):
        run(cfg.with_updates(on_client_error="stop"), stop, progress=False)
    lines = [json.loads(x) for x in (stop / "trace.jsonl").read_text().splitlines()]
    assert [x["status"] for x in lines] == ["ok", "failed"]  # trace kept up to the failure
    assert not (stop / "rounds.jsonl").read_text().strip()
