"""Same config and seed: in-process and Flower simulation sample, train and aggregate identically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from zerofl_profiler.fl.checkpoint import load_checkpoint
from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.engine import run as run_inprocess
from zerofl_profiler.fl.sampling import sample_clients
from zerofl_profiler.traces.run import load_run

pytestmark = [pytest.mark.slow, pytest.mark.flower]


def test_inprocess_and_flower_simulation_agree(tmp_path):
    """One test (not a module fixture) so pytest-xdist runs the two engines once, not once per worker."""
    pytest.importorskip("flwr")
    pytest.importorskip("ray")
    both = _both_runs(tmp_path)
    check_same_clients_sampled_each_round(both)
    check_same_global_model(both)
    check_same_flops_and_bytes_per_client(both)
    check_same_run_files(both)
    check_resuming_a_finished_flower_run_does_nothing(both)


def _both_runs(root: Path) -> tuple[RunConfig, Path, Path]:
    from zerofl_profiler.fl.flower import run_flower

    cfg = RunConfig(clients=5, clients_per_round=3, rounds=2, upload="topk-diff", encoding="bitmask",
                    mask_ratio=0.05, sparsity=0.8, seed=11)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what every Flower client runs with (torch_threads=1)
    try:
        run_inprocess(cfg, root / "inprocess", progress=False)
    finally:
        torch.set_num_threads(threads)
    run_flower(cfg, root / "flower", progress=False, client_cpus=1.0, ray_cpus=2, torch_threads=1)
    return cfg, root / "inprocess", root / "flower"


def check_same_clients_sampled_each_round(both_runs):
    cfg, a, b = both_runs
    ra, rb = load_run(a).rounds, load_run(b).rounds
    assert len(ra) == len(rb) == cfg.rounds
    for x, y in zip(ra, rb):
        expected = sample_clients(cfg.seed, x.round, cfg.clients, cfg.clients_per_round)
        assert x.sampled_clients == y.sampled_clients == expected
        assert x.completed_clients == y.completed_clients == expected
        assert (x.engine, y.engine) == ("inprocess", "flower")


def check_same_global_model(both_runs):
    _, a, b = both_runs
    ga, gb = load_checkpoint(a).global_state, load_checkpoint(b).global_state
    assert list(ga) == list(gb)
    for k in gb:
        diff = float(np.max(np.abs(ga[k].astype(np.float64) - gb[k].astype(np.float64)), initial=0.0))
        scale = float(np.max(np.abs(gb[k].astype(np.float64)), initial=0.0))
        assert diff <= 1e-4 * scale, f"{k}: max|a-b| = {diff:g} > 1e-4 x {scale:g}"
    ia, ib = load_run(a).rounds, load_run(b).rounds
    for x, y in zip(ia, ib):
        assert y.test_accuracy == pytest.approx(x.test_accuracy, abs=1.5 / 360)


def check_same_flops_and_bytes_per_client(both_runs):
    _, a, b = both_runs
    ca = sorted(load_run(a).clients, key=lambda c: (c.round, c.client_id))
    cb = sorted(load_run(b).clients, key=lambda c: (c.round, c.client_id))
    assert [(c.round, c.client_id) for c in ca] == [(c.round, c.client_id) for c in cb]
    assert (load_run(a).trace.engine, load_run(b).trace.engine) == ("inprocess", "flower")
    for x, y in zip(ca, cb):
        assert y.status == "ok"
        assert (x.samples, x.steps, x.batch_sizes) == (y.samples, y.steps, y.batch_sizes)
        assert x.flops["dense"] == y.flops["dense"]
        for k, v in x.flops["sparse"].items():  # sparse FLOPs follow measured densities
            assert y.flops["sparse"][k] == pytest.approx(v, rel=1e-4)
        assert (x.bytes_up, x.bytes_up_dense, x.bytes_down) == (y.bytes_up, y.bytes_up_dense, y.bytes_down)
        assert x.energy.attribution == y.energy.attribution == "exclusive"  # energy none: nothing shared


def check_same_run_files(both_runs):
    _, a, b = both_runs
    assert json.loads((a / "layers.json").read_text()) == json.loads((b / "layers.json").read_text())
    ra, rb = load_run(a), load_run(b)
    assert rb.config.engine == "flower" and ra.config.engine == "inprocess"
    assert ra.config.with_updates(engine="flower") == rb.config  # every other option the same
    assert ra.stored.partition_stats == rb.stored.partition_stats
    ta, tb = dict(ra.stored.trace), dict(rb.stored.trace)
    assert (ta.pop("engine"), tb.pop("engine")) == ("inprocess", "flower")
    assert ta == tb


def check_resuming_a_finished_flower_run_does_nothing(both_runs):
    from zerofl_profiler.fl.flower import run_flower

    cfg, _, b = both_runs
    before = (b / "trace.jsonl").read_text()
    s = run_flower(cfg, b, resume=True, progress=False)
    assert s.already_finished and s.rounds_completed == cfg.rounds
    assert (b / "trace.jsonl").read_text() == before
