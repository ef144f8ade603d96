"""The optional extra: nothing imported until used, telemetry off, a missing flwr/Ray is one clear error."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from zerofl_profiler.errors import BadInputError, MissingExtraError
from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.flower import extra


def test_importing_the_adapter_imports_no_flwr():
    code = ("import sys, zerofl_profiler.fl.flower as f, zerofl_profiler.fl.engine; "
            "assert 'flwr' not in sys.modules and 'ray' not in sys.modules, 'eager import'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def _hide(monkeypatch, *names):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n in names else real(n, *a))


def test_missing_flwr_names_the_extra(monkeypatch):
    _hide(monkeypatch, "flwr")
    with pytest.raises(MissingExtraError, match=r"zerofl-profiler\[flower\]"):
        extra.require_flower()


def test_missing_ray_is_an_error_before_flower_can_exit(monkeypatch, tmp_path):
    pytest.importorskip("flwr")  # flwr present, Ray hidden: the case this test is about
    _hide(monkeypatch, "ray")
    from zerofl_profiler.fl.flower import run_flower

    with pytest.raises(MissingExtraError, match="Ray"):
        run_flower(RunConfig(clients=2, clients_per_round=1, rounds=1), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()  # failed before anything was written
    extra.require_flower(simulation=False)  # a deployment (no Ray) is still fine


def test_old_flwr_is_refused(monkeypatch):
    import importlib.metadata as md

    monkeypatch.setattr(md, "version", lambda name: "1.9.0")
    with pytest.raises(MissingExtraError, match="1.42"):
        extra.require_flower()


def test_telemetry_and_update_checks_are_off(monkeypatch):
    pytest.importorskip("flwr")
    monkeypatch.setenv("FLWR_TELEMETRY_ENABLED", "1")
    extra.require_flower(simulation=False)
    assert os.environ["FLWR_TELEMETRY_ENABLED"] == "0" and os.environ["FLWR_DISABLE_UPDATE_CHECK"] == "1"
    env = extra.quiet_env({"PATH": "/bin", "FLWR_TELEMETRY_ENABLED": "1"})
    assert env == {"PATH": "/bin", "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1",
                   "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1"}


@pytest.mark.parametrize("kw", [{"client_cpus": 0}, {"client_cpus": 3.0, "ray_cpus": 2}, {"torch_threads": 0}])
def test_bad_resources_are_bad_input(kw, tmp_path):
    pytest.importorskip("flwr")
    from zerofl_profiler.fl.flower import run_flower

    with pytest.raises(BadInputError):
        run_flower(RunConfig(clients=2, clients_per_round=1, rounds=1), tmp_path / "r", progress=False, **kw)


def test_concurrency_decides_energy_attribution():
    from zerofl_profiler.fl.flower.runner import concurrency

    assert concurrency(1.0, 2) == 2 and concurrency(2.0, 2) == 1 and concurrency(1.5, 4) == 2


def test_shared_attribution_is_stamped_on_measured_energy(monkeypatch):
    """Under concurrency the client marks a measured energy window 'shared' (never an unmeasured one)."""
    pytest.importorskip("flwr")
    from flwr.app import ConfigRecord, Context, Message, RecordDict
    from flwr.supercore.task_identity import TaskIdentity

    from zerofl_profiler.fl.client import ClientResult
    from zerofl_profiler.fl.flower import protocol as P
    from zerofl_profiler.fl.flower.arrays import state_to_arrays
    from zerofl_profiler.fl.flower.client_app import handle_train
    from zerofl_profiler.fl.flower.records import join_record
    from zerofl_profiler.traces.schema import ClientRoundRecord, EnergyBlock, empty_flops

    monkeypatch.setattr(TaskIdentity, "_task_id", 1)
    monkeypatch.setattr(TaskIdentity, "_run_id", 1)
    monkeypatch.setattr(TaskIdentity, "_node_id", 1)
    cfg = RunConfig(clients=2, clients_per_round=1, rounds=1)

    def fake_train(gs, data, cfg, rnd, cid, meter, **kw):
        rec = ClientRoundRecord(run_id="x", round=rnd, client_id=cid, samples=len(data), steps=1, batch_sizes=[1],
                                densities={}, flops={"dense": empty_flops(), "sparse": empty_flops()}, bytes_up=0,
                                bytes_up_dense=0, bytes_down=0, wall_time_s=0.1, cpu_time_s=0.1,
                                energy=EnergyBlock(source="rapl", method="counter", total_j=2.0))
        return ClientResult(None, rec, None)

    import tomli_w

    for attribution, want in (("shared", "shared"), ("exclusive", "exclusive")):
        conf = ConfigRecord({P.RUN_CONFIG: tomli_w.dumps(cfg.to_toml_dict()), P.ROUND: 1, P.CLIENT_ID: 1,
                             P.ATTRIBUTION: attribution})
        msg = Message(RecordDict({P.GLOBAL_ARRAYS: state_to_arrays({}), P.TRAIN_CONFIG: conf}), dst_node_id=7,
                      message_type="train")
        ctx = Context(run_id=1, node_id=7, node_config={P.PARTITION_ID: 1}, state=RecordDict(), run_config={})
        reply = handle_train(msg, ctx, fake_train)
        assert not reply.has_error(), reply.error.reason if reply.has_error() else ""
        metrics = {k: v for k, v in reply.content[P.METRICS].items() if k != "num-examples"}
        rec = join_record(metrics, reply.content[P.RECORD]["skeleton"])
        assert rec.energy.attribution == want and rec.energy.total_j == 2.0
