"""The strategy and client handlers with real Flower messages: failures recorded, resume continues."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.app import ConfigRecord, Context, Error, Message, RecordDict  # noqa: E402

from zerofl_profiler.errors import TrainingError  # noqa: E402
from zerofl_profiler.config import RunConfig  # noqa: E402
from zerofl_profiler.fl.engine import setup_run  # noqa: E402
from zerofl_profiler.fl.flower import protocol as P  # noqa: E402
from zerofl_profiler.fl.flower.arrays import state_to_arrays  # noqa: E402
from zerofl_profiler.fl.flower.client_app import handle_train, make_client_app  # noqa: E402
from zerofl_profiler.fl.flower.strategy import ZeroFLFedAvg  # noqa: E402
from zerofl_profiler.fl.sampling import sample_clients  # noqa: E402
from zerofl_profiler.power import NullMeter  # noqa: E402
from zerofl_profiler.traces.run import load_run  # noqa: E402

CFG = RunConfig(clients=4, clients_per_round=3, rounds=1, upload="topk-weights", on_client_error="skip", seed=5)
NODES = {cid: 1000 + cid for cid in range(CFG.clients)}


@pytest.fixture(autouse=True)
def _task_identity():
    """Flower stamps instruction messages with the running task's identity; outside a runtime we set one."""
    from flwr.supercore.task_identity import TaskIdentity

    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 1
    yield
    TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


def _context(cid: int) -> Context:
    return Context(run_id=1, node_id=NODES[cid], node_config={P.PARTITION_ID: cid, P.NUM_PARTITIONS: CFG.clients},
                   state=RecordDict(), run_config={})


def _raise_for_first_sampled(global_state, client, cfg, rnd, cid, meter, **kw):
    """A stand-in train_client that fails for one known client (module level: Ray pickles it)."""
    if cid == sample_clients(cfg.seed, rnd, cfg.clients, cfg.clients_per_round)[0]:
        raise RuntimeError(f"injected failure on client {cid}")
    from zerofl_profiler.fl.client import train_client

    return train_client(global_state, client, cfg, rnd, cid, meter, **kw)


def _round(tmp_path: Path, cfg: RunConfig, reply_for) -> tuple[object, list[int]]:
    ctx = setup_run(cfg.with_updates(engine="flower"), tmp_path / "run", meter=NullMeter())
    strategy = ZeroFLFedAvg(ctx, NODES)
    before = {k: v.cpu().numpy().copy() for k, v in ctx.global_state.items()}
    msgs = list(strategy.configure_train(1, state_to_arrays(ctx.global_state), ConfigRecord(), grid=None))
    sampled = sample_clients(cfg.seed, 1, cfg.clients, cfg.clients_per_round)
    assert [m.metadata.dst_node_id for m in msgs] == [NODES[c] for c in sampled]
    replies = [r for m in msgs if (r := reply_for(m, sampled)) is not None]
    try:
        strategy.aggregate_train(1, replies)
    finally:
        ctx.close()
    return before, sampled


def test_error_reply_and_missing_reply_are_recorded(tmp_path):
    def reply_for(msg, sampled):
        cid = int(msg.content[P.TRAIN_CONFIG][P.CLIENT_ID])
        if cid == sampled[0]:
            return Message(Error(P.ERR_CLIENT_FAILED, "RuntimeError: out of memory"), reply_to=msg)
        if cid == sampled[1]:
            return None  # never answered
        return handle_train(msg, _context(cid))

    before, sampled = _round(tmp_path, CFG, reply_for)
    run = load_run(tmp_path / "run")
    (rnd,) = run.rounds
    assert rnd.sampled_clients == sampled
    assert rnd.failed_clients == sampled[:2] and rnd.completed_clients == sampled[2:]
    recs = {c.client_id: c for c in run.clients}
    assert set(recs) == set(sampled)
    assert recs[sampled[0]].status == "failed" and "out of memory" in recs[sampled[0]].error
    assert recs[sampled[1]].status == "failed" and "no reply" in recs[sampled[1]].error
    for cid in sampled[:2]:
        assert recs[cid].steps == 0 and recs[cid].bytes_up == 0 and recs[cid].flops["dense"]["total"] == 0
    ok = recs[sampled[2]]
    assert ok.status == "ok" and ok.steps > 0 and ok.bytes_up > 0 and run.trace.engine == "flower"
    # the one good upload was aggregated: the model moved
    from zerofl_profiler.fl.checkpoint import load_checkpoint

    after = load_checkpoint(tmp_path / "run").global_state
    assert any(not np.array_equal(before[k], after[k]) for k in before)


def test_client_handler_turns_an_exception_into_an_error_reply(tmp_path):
    def reply_for(msg, sampled):
        cid = int(msg.content[P.TRAIN_CONFIG][P.CLIENT_ID])
        reply = handle_train(msg, _context(cid), _raise_for_first_sampled)
        if cid == sampled[0]:
            assert reply.has_error() and reply.error.code == P.ERR_CLIENT_FAILED
            assert "injected failure" in reply.error.reason
        return reply

    _, sampled = _round(tmp_path, CFG, reply_for)
    rec = {c.client_id: c for c in load_run(tmp_path / "run").clients}[sampled[0]]
    assert rec.status == "failed" and "injected failure" in rec.error


def test_wrong_partition_is_refused(tmp_path):
    def reply_for(msg, sampled):
        cid = int(msg.content[P.TRAIN_CONFIG][P.CLIENT_ID])
        other = (cid + 1) % CFG.clients
        reply = handle_train(msg, _context(other) if cid == sampled[0] else _context(cid))
        if cid == sampled[0]:
            assert reply.has_error() and reply.error.code == P.ERR_WRONG_PARTITION
        return reply

    _, sampled = _round(tmp_path, CFG, reply_for)
    assert load_run(tmp_path / "run").rounds[0].failed_clients == [sampled[0]]


def test_stop_policy_raises_after_recording(tmp_path):
    cfg = CFG.with_updates(on_client_error="stop")

    def reply_for(msg, sampled):
        return Message(Error(P.ERR_CLIENT_FAILED, "boom"), reply_to=msg)

    with pytest.raises(TrainingError, match="boom"):
        _round(tmp_path, cfg, reply_for)
    recs = load_run(tmp_path / "run").clients
    assert len(recs) == 1 and recs[0].status == "failed"


@pytest.mark.slow
@pytest.mark.flower
def test_failure_under_ray_simulation(tmp_path):
    pytest.importorskip("ray")
    from zerofl_profiler.fl.flower import run_flower

    run_flower(CFG, tmp_path / "sim", progress=False, ray_cpus=2,
               client_app=make_client_app(train_fn=_raise_for_first_sampled))
    run = load_run(tmp_path / "sim")
    sampled = sample_clients(CFG.seed, 1, CFG.clients, CFG.clients_per_round)
    assert run.rounds[0].failed_clients == sampled[:1]
    assert run.rounds[0].completed_clients == sampled[1:]
    bad = [c for c in run.clients if c.status == "failed"]
    assert [c.client_id for c in bad] == sampled[:1] and "injected failure" in bad[0].error


def _die_for_first_sampled(global_state, client, cfg, rnd, cid, meter, **kw):
    """A stand-in train_client whose worker process dies for one known client (as an OOM kill would)."""
    import os

    if cid == sample_clients(cfg.seed, rnd, cfg.clients, cfg.clients_per_round)[0]:
        os._exit(3)
    from zerofl_profiler.fl.client import train_client

    return train_client(global_state, client, cfg, rnd, cid, meter, **kw)


@pytest.mark.slow
@pytest.mark.flower
def test_client_process_that_dies_is_one_line_with_the_detail_in_a_log(tmp_path, capfd):
    pytest.importorskip("ray")
    from zerofl_profiler.fl.flower import run_flower

    run_flower(CFG, tmp_path / "sim", progress=False, ray_cpus=2,
               client_app=make_client_app(train_fn=_die_for_first_sampled))
    err = capfd.readouterr().err
    sampled = sample_clients(CFG.seed, 1, CFG.clients, CFG.clients_per_round)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err
    log = (tmp_path / "sim" / "flower.log").read_text()
    assert "ActorDiedError" in log or "actor died" in log.lower()
    # Ray may fail a task queued on the dead worker too: each failed client is one line, no other output
    bad = [c.client_id for c in load_run(tmp_path / "sim").clients if c.status == "failed"]
    assert sampled[0] in bad
    assert len(lines) == len(bad), err
    for cid, line in zip(bad, lines):
        assert f"client {cid} failed" in line and "flower.log" in line


def test_resume_continues_with_the_next_round(tmp_path):
    """After round 1 of 2, a resumed server starts Flower's loop at its round 1 = our round 2."""
    cfg = CFG.with_updates(rounds=2, engine="flower")

    def train_round(resume: bool) -> list:
        ctx = setup_run(cfg, tmp_path / "run", resume=resume, meter=NullMeter())
        strategy = ZeroFLFedAvg(ctx, NODES)
        msgs = list(strategy.configure_train(1, state_to_arrays(ctx.global_state), ConfigRecord(), grid=None))
        rounds = {int(m.content[P.TRAIN_CONFIG][P.ROUND]) for m in msgs}
        clients = [int(m.content[P.TRAIN_CONFIG][P.CLIENT_ID]) for m in msgs]
        replies = [handle_train(m, _context(c)) for m, c in zip(msgs, clients)]
        try:
            strategy.aggregate_train(1, replies)
        finally:
            ctx.close()
        return [rounds, clients]

    first = train_round(resume=False)
    second = train_round(resume=True)
    assert first == [{1}, sample_clients(cfg.seed, 1, cfg.clients, cfg.clients_per_round)]
    assert second == [{2}, sample_clients(cfg.seed, 2, cfg.clients, cfg.clients_per_round)]
    run = load_run(tmp_path / "run")
    assert [r.round for r in run.rounds] == [1, 2]
    assert sorted({c.round for c in run.clients}) == [1, 2] and all(c.status == "ok" for c in run.clients)


def test_node_unavailable_reply_from_the_superlink_is_recorded_with_its_cause(tmp_path):
    """Flower's SuperLink answers for a dead SuperNode (sender = the SuperLink, not the node): the
    reply is matched by the message it answers, and the record says why, not "no reply"."""
    from uuid import uuid4

    from flwr.server.superlink.linkstate.utils import create_message_error_unavailable_res_message

    def reply_for(msg, sampled):
        msg.metadata.__dict__["_message_id"] = str(uuid4())  # what the grid does when it pushes a message
        cid = int(msg.content[P.TRAIN_CONFIG][P.CLIENT_ID])
        if cid == sampled[0]:
            return create_message_error_unavailable_res_message(msg.metadata, "node_unavail")
        return handle_train(msg, _context(cid))

    _, sampled = _round(tmp_path, CFG, reply_for)
    recs = {c.client_id: c for c in load_run(tmp_path / "run").clients}
    dead = recs[sampled[0]]
    assert dead.status == "failed" and "Node Unavailable" in dead.error and "no reply" not in dead.error
    assert all(recs[c].status == "ok" for c in sampled[1:])


def test_deployed_run_sends_and_records_the_clients_thread_count(tmp_path):
    from zerofl_profiler.fl.flower.server_app import options_from_run_config

    f = tmp_path / "run.toml"
    f.write_text(CFG.with_updates(threads=3).to_toml_text())
    opts = options_from_run_config({"config": str(f), "out-dir": str(tmp_path / "run")})
    assert opts.torch_threads == 3 == opts.cfg.threads  # config.toml records what the clients are told to use
    ctx = setup_run(opts.cfg, opts.out_dir, meter=NullMeter())
    try:
        strategy = ZeroFLFedAvg(ctx, NODES, torch_threads=opts.torch_threads)
        msgs = list(strategy.configure_train(1, state_to_arrays(ctx.global_state), ConfigRecord(), grid=None))
    finally:
        ctx.close()
    assert {int(m.content[P.TRAIN_CONFIG][P.THREADS]) for m in msgs} == {3}
    import tomllib

    assert tomllib.loads((tmp_path / "run" / "config.toml").read_text())["threads"] == 3


def test_client_apps_training_at_once_on_one_host_record_shared_energy(tmp_path, monkeypatch):
    """Two SuperNodes on one machine: the overlap seen by the host registry makes measured energy shared."""
    import contextlib

    import zerofl_profiler.fl.flower.client_app as ca
    from zerofl_profiler.power.host_activity import ActivityWindow
    from zerofl_profiler.traces.schema import EnergyBlock

    @contextlib.contextmanager
    def overlapped():
        w = ActivityWindow()
        yield w
        w.shared = True
    monkeypatch.setattr(ca, "host_activity", overlapped)

    def measured(global_state, client, cfg, rnd, cid, meter, **kw):
        from zerofl_profiler.fl.client import train_client

        res = train_client(global_state, client, cfg, rnd, cid, meter, **kw)
        from dataclasses import replace

        rec = replace(res.record, energy=EnergyBlock(source="rapl", method="counter", total_j=1.0,
                                                     domains_j={"package-0": 1.0}, duration_s=0.1))
        return replace(res, record=rec)

    def reply_for(msg, sampled):
        return handle_train(msg, _context(int(msg.content[P.TRAIN_CONFIG][P.CLIENT_ID])), measured)

    _round(tmp_path, CFG, reply_for)
    recs = load_run(tmp_path / "run").clients
    assert recs and all(r.energy.attribution == "shared" for r in recs)
