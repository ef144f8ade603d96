"""The meter inside a real (tiny) training run: every client-round record carries energy and a source."""

from __future__ import annotations

import pytest

from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.engine import run
from zerofl_profiler.power import make_meter
from zerofl_profiler.traces import load_run

SMALL = dict(clients=4, clients_per_round=2, rounds=1, batch_size=32, eval_batch_size=512)

pytestmark = pytest.mark.slow  # real training, ~5-10 s per run on 2 idle cores


def test_config_energy_rapl_fills_every_client_record(intel_tree, tmp_path):
    """energy = rapl goes through the engine's own make_meter call; the fake counters move per client."""
    cfg = RunConfig(**SMALL, energy="rapl")
    run(cfg, tmp_path / "run", progress=False)
    data = load_run(tmp_path / "run")
    assert len(data.clients) == 2
    for rec in data.clients:
        e = rec.energy
        assert e.source == "rapl" and e.method == "counter"
        assert e.total_j is not None and e.total_j >= 0 and e.duration_s > 0
        assert "package-0" in e.domains_j and rec.energy_estimate is None


def test_auto_without_counters_puts_the_estimate_beside_not_in(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROFL_POWERCAP_ROOT", str(tmp_path / "no-powercap"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    meter = make_meter("auto")
    try:
        run(RunConfig(**SMALL), tmp_path / "run", meter=meter, progress=False)
    finally:
        meter.close()
    for rec in load_run(tmp_path / "run").clients:
        assert rec.energy.source == "none" and rec.energy.total_j is None
        assert {"nvml", "rapl"} <= set(rec.energy.skipped)
        est = rec.energy_estimate
        assert est is not None and est.source == "estimate" and est.total_j > 0
        # CPU-time x power: never more than every CPU busy for the whole window
        per_cpu_w = meter.backends[0].power.per_cpu_w
        assert est.total_j <= per_cpu_w * meter.backends[0].power.cpus * est.duration_s * 1.05 + 0.05
