"""The meter inside a real (tiny) training run: every client-round record carries energy and a source."""

from __future__ import annotations

import pytest

from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.engine import run
from zerofl_profiler.power import make_meter
from zerofl_profiler.traces import load_run

SMALL = dict(clients=4, clients_per_round=2, rounds=1, batch_size=32, eval_batch_size=512)

pytestmark = pytest.mark.slow  # real training, ~5-10 s per run on 2 idle cores


STEP_UJ = 250_000  # what one local SGD step "costs" on the fake package counter (0.25 J)
AGG_UJ = 125_000  # what one aggregation "costs" (0.125 J)


@pytest.fixture
def moving_counter(powercap, monkeypatch):
    """A package counter that advances by STEP_UJ per local SGD step and AGG_UJ per aggregation.

    The energy is injected where the work happens, so a client record only gets it if the client's
    window really encloses its local training (and the round's only if it encloses aggregation).
    """
    import torch

    import zerofl_profiler.fl.uploads as uploads

    powercap.zone("0", "package-0", energy_uj=0)
    state = {"uj": 0}

    def advance(uj: int) -> None:
        state["uj"] += uj
        powercap.set("0", state["uj"])

    real_step, real_agg = torch.optim.SGD.step, uploads.aggregate_uploads

    def step(self, *a, **k):
        out = real_step(self, *a, **k)
        advance(STEP_UJ)
        return out

    def aggregate(*a, **k):
        out = real_agg(*a, **k)
        advance(AGG_UJ)
        return out

    monkeypatch.setattr(torch.optim.SGD, "step", step)
    monkeypatch.setattr(uploads, "aggregate_uploads", aggregate)
    return state


def test_config_energy_rapl_fills_every_client_record(moving_counter, tmp_path):
    """energy = rapl goes through the engine's own make_meter call; each client gets exactly its steps' energy."""
    cfg = RunConfig(**SMALL, energy="rapl")
    run(cfg, tmp_path / "run", progress=False)
    data = load_run(tmp_path / "run")
    assert len(data.clients) == 2
    for rec in data.clients:
        e = rec.energy
        assert e.source == "rapl" and e.method == "counter" and rec.energy_estimate is None
        assert rec.steps > 0
        assert e.total_j == pytest.approx(rec.steps * STEP_UJ / 1e6, abs=1e-9)
        assert e.domains_j["package-0"] == pytest.approx(rec.steps * STEP_UJ / 1e6, abs=1e-9)
    (rnd,) = data.rounds
    assert rnd.energy.total_j == pytest.approx(AGG_UJ / 1e6, abs=1e-9)


def test_run_window_minus_aggregation_equals_the_sum_of_clients(moving_counter, tmp_path):
    """Nothing the counter saw during a run is lost between the client and aggregation windows."""
    cfg = RunConfig(**{**SMALL, "rounds": 2}, energy="rapl")
    meter = make_meter("rapl")
    try:
        whole = meter.start_window("run")
        run(cfg, tmp_path / "run", meter=meter, progress=False)
        total = whole.stop().result.total_j
    finally:
        meter.close()
    data = load_run(tmp_path / "run")
    clients = sum(r.energy.total_j for r in data.clients)
    aggregation = sum(r.energy.total_j for r in data.rounds)
    assert total == pytest.approx(moving_counter["uj"] / 1e6, abs=1e-9)
    assert total - aggregation == pytest.approx(clients, abs=1e-9)
    assert clients == pytest.approx(sum(r.steps for r in data.clients) * STEP_UJ / 1e6, abs=1e-9)
    assert aggregation == pytest.approx(len(data.rounds) * AGG_UJ / 1e6, abs=1e-9)


def test_explicit_rapl_counter_turning_to_garbage_in_training_is_exit_1(moving_counter, powercap, tmp_path,
                                                                          capsys, monkeypatch):
    """An explicitly requested meter that fails mid-run stops it with one line, never a record of 0 J."""
    import torch

    from zerofl_profiler.cli import main

    step = torch.optim.SGD.step

    def garbage(self, *a, **k):
        # the counter stays garbage from here on (the moving counter would overwrite it at once,
        # and then only a sampler poll at the right instant could see it)
        monkeypatch.setattr(powercap, "set", lambda *args, **kw: None)
        (powercap.paths["intel-rapl:0"] / "energy_uj").write_text("garbage\n")
        return step(self, *a, **k)
    monkeypatch.setattr(torch.optim.SGD, "step", garbage)
    with pytest.raises(SystemExit) as ei:
        main(["train", "--out", str(tmp_path / "run"), "--energy", "rapl", "--rounds", "1", "--clients", "2",
              "--clients-per-round", "2", "--quiet"])
    err = capsys.readouterr().err
    assert ei.value.code == 1
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "energy backend rapl failed" in lines[0] and "does not hold an integer" in lines[0]
    trace = tmp_path / "run" / "trace.jsonl"
    assert not trace.exists() or trace.read_text() == ""


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
