"""RUN_DIR has one owner: the lock, checkpoint identity, the layers schema, and complete-record reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zerofl_profiler.cli import main
from zerofl_profiler.config import RunConfig
from zerofl_profiler.errors import BadInputError, TraceFormatError, ZeroflError
from zerofl_profiler.traces import load_run
from zerofl_profiler.traces.rundir import LOCK_FILE, LockHolder, RunDir, RunLockedError

TINY = dict(clients=3, clients_per_round=2, rounds=2, local_epochs=1, batch_size=32, energy="none")
ROOT = Path(__file__).resolve().parents[2]


def _one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as ei:
        main(argv)
    err = capsys.readouterr().err
    assert ei.value.code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    return lines[0]


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.name != LOCK_FILE}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A small finished run written by the real engine."""
    from zerofl_profiler.fl.engine import run

    out = tmp_path_factory.mktemp("fin") / "run"
    run(RunConfig(**TINY), out, progress=False)
    return out


# ----------------------------------------------------------------------------- the lock
def test_second_writer_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    first = RunDir(tmp_path / "run")
    first.acquire()
    try:
        assert LockHolder.parse((tmp_path / "run" / LOCK_FILE).read_text()) == LockHolder(os.getpid(),
                                                                                          __import__("socket").gethostname())
        with pytest.raises(RunLockedError) as ei:
            RunDir(tmp_path / "run").acquire()  # flock: a second open file description conflicts
        msg = str(ei.value)
        assert f"PID {os.getpid()}" in msg and "\n" not in msg and isinstance(ei.value, BadInputError)
    finally:
        first.release()
    assert (tmp_path / "run" / LOCK_FILE).read_text() == ""  # a clean exit leaves no holder
    second = RunDir(tmp_path / "run")
    second.acquire()
    second.release()


def test_loser_waits_for_a_winner_that_has_locked_but_not_yet_written_its_pid(tmp_path: Path) -> None:
    """The winner writes its PID just after taking the flock: a loser in between still names it."""
    import fcntl
    import threading

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    winner = open(run_dir / LOCK_FILE, "a+", encoding="utf-8")
    fcntl.flock(winner.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # locked, lock file still empty

    def write_pid() -> None:
        winner.write("4242 otherhost\n")
        winner.flush()

    timer = threading.Timer(0.1, write_pid)
    timer.start()
    try:
        with pytest.raises(RunLockedError) as ei:
            RunDir(run_dir).acquire()
        assert "PID 4242 on otherhost" in str(ei.value)
    finally:
        timer.join()
        winner.close()


def test_train_on_a_locked_run_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from zerofl_profiler.traces.rundir import RunDir; "
                               "r = RunDir(sys.argv[1]); r.acquire(); print('held', flush=True); sys.stdin.read()",
         str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        line = _one_error_line(["train", "--out", str(out), "--rounds", "1", "--quiet"], capsys)
        assert f"PID {holder.pid}" in line
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing written
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_stale_lock_of_a_dead_process_is_taken_over_with_one_notice(tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dead = _dead_pid()
    (run_dir / LOCK_FILE).write_text(f"{dead} somehost\n")
    rd = RunDir(run_dir)
    rd.acquire()
    try:
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert len(err) == 1 and f"PID {dead}" in err[0] and err[0].startswith("notice:")
        assert LockHolder.parse((run_dir / LOCK_FILE).read_text()).pid == os.getpid()
    finally:
        rd.release()


def test_writing_without_the_lock_is_refused(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    with pytest.raises(ZeroflError, match="without holding its lock"):
        rd.write_checkpoint(b"x")
    assert not (tmp_path / "run").exists()


def test_a_failed_start_leaves_no_directory(tmp_path: Path) -> None:
    from zerofl_profiler.fl.engine import run

    out = tmp_path / "run"
    with pytest.raises(BadInputError, match="training samples"):
        run(RunConfig(**{**TINY, "clients": 5000, "clients_per_round": 2}), out, progress=False)
    assert not out.exists()


def test_readers_work_while_a_writer_holds_the_lock(finished_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    rd = RunDir(copy)
    rd.acquire()
    try:
        with open(copy / "trace.jsonl", "a", encoding="utf-8") as fh:  # a record half appended
            fh.write('{"schema_version": 1, "kind": "client_ro')
        data = load_run(copy)  # never blocks on the lock; sees the complete records only
        assert len(data.clients) == TINY["rounds"] * TINY["clients_per_round"]
    finally:
        rd.release()


def _train_process(out: Path, rounds: int) -> tuple[list[str], dict[str, str]]:
    """argv and environment of a real, small `zerofl-profile train --out OUT` process."""
    argv = [sys.executable, "-m", "zerofl_profiler", "train", "--out", str(out), "--quiet", "--energy", "none",
            "--rounds", str(rounds), "--clients", "3", "--clients-per-round", "2", "--local-epochs", "1"]
    return argv, {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_two_real_train_processes_on_one_out(tmp_path: Path) -> None:
    """Started together: exactly one runs; the other exits 2 with one line; the run is intact."""
    out = tmp_path / "run"
    argv, env = _train_process(out, rounds=3)
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    lines = [ln for ln in loser.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in loser, loser
    winner_pid = next(p.pid for p, (code, _) in zip(procs, results) if code == 0)
    # the loser either met the lock (naming the winner) or, if it started after the winner finished,
    # the finished run directory; both are one line, exit 2
    assert f"PID {winner_pid}" in lines[0] or "already exists" in lines[0], lines[0]
    data = load_run(out)
    assert len(data.rounds) == 3 and len(data.clients) == 3 * 2
    assert {c.run_id for c in data.clients} == {data.run_id}
    assert len({(c.round, c.client_id) for c in data.clients}) == len(data.clients)


@pytest.mark.slow
def test_second_train_started_during_a_run_names_its_pid(tmp_path: Path) -> None:
    """Deterministic order: B starts while A holds the lock, and names A's PID."""
    import time

    out = tmp_path / "run"
    argv, env = _train_process(out, rounds=6)
    a = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # A holds the lock once its PID is in the lock file
            lock = out / LOCK_FILE
            if lock.is_file() and lock.read_text().startswith(f"{a.pid} "):
                break
            time.sleep(0.05)
        b = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        assert b.returncode == 2
        lines = [ln for ln in b.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and f"PID {a.pid}" in lines[0], b.stderr
    finally:
        assert a.wait(timeout=300) == 0, a.stderr.read()
    data = load_run(out)
    assert len(data.rounds) == 6 and {c.run_id for c in data.clients} == {data.run_id}


# ----------------------------------------------------------------------------- checkpoint identity
def test_resume_refuses_a_checkpoint_of_another_run(finished_run: Path, tmp_path: Path, capsys) -> None:
    from zerofl_profiler.fl.engine import run

    other = tmp_path / "other"
    run(RunConfig(**{**TINY, "rounds": 3}), other, progress=False)  # same options but rounds, another id
    victim = tmp_path / "victim"
    shutil.copytree(finished_run, victim)
    shutil.copy(other / "checkpoint.pt", victim / "checkpoint.pt")
    before = _snapshot(victim)
    line = _one_error_line(["train", "--out", str(victim), "--resume", "--quiet"], capsys)
    assert "checkpoint.pt" in line and "another run" in line
    assert _snapshot(victim) == before  # nothing written


def test_resume_refuses_a_checkpoint_written_under_other_options(finished_run: Path, tmp_path: Path,
                                                                 capsys) -> None:
    import tomllib

    import tomli_w

    victim = tmp_path / "victim"
    shutil.copytree(finished_run, victim)
    cfg = tomllib.loads((victim / "config.toml").read_text())
    cfg["rounds"] = 4  # config.toml edited after the checkpoint was written
    (victim / "config.toml").write_text(tomli_w.dumps(cfg))
    before = _snapshot(victim)
    line = _one_error_line(["train", "--out", str(victim), "--resume", "--quiet"], capsys)
    assert "checkpoint.pt" in line and "other options" in line
    assert _snapshot(victim) == before


def test_checkpoint_carries_run_id_and_digest(finished_run: Path) -> None:
    from zerofl_profiler.fl.checkpoint import load_checkpoint

    ck = load_checkpoint(finished_run)
    stored = RunDir(finished_run).read_config()
    assert ck.run_id == stored.run_id and ck.config_digest == stored.digest and len(stored.digest) == 16


# ----------------------------------------------------------------------------- layers.json schema
@pytest.mark.parametrize(("mutate", "where"), [
    (lambda d: d["layers"][0].update(op_class="conv"), "layers[0].op_class"),
    (lambda d: d["layers"][1]["dense"].update(forward=-1), "layers[1].dense.forward"),
    (lambda d: d["layers"][1]["dense"].update(fwd=3), "layers[1].dense.fwd"),
    (lambda d: d["layers"][2].pop("name"), "layers[2] lacks a name"),
    (lambda d: d["layers"][0]["bytes"]["dense"]["forward"].update(read="x"), "layers[0].bytes.dense.forward.read"),
    (lambda d: d.update(layers={}), "layers: must be a list"),
    (lambda d: d.update(batch_size=0), "batch_size"),
])
def test_layers_json_that_breaks_its_schema_is_one_line(finished_run: Path, tmp_path: Path, capsys, mutate,
                                                        where) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(finished_run, bad)
    doc = json.loads((bad / "layers.json").read_text())
    mutate(doc)
    (bad / "layers.json").write_text(json.dumps(doc))
    with pytest.raises(TraceFormatError) as ei:
        load_run(bad)
    assert str(bad / "layers.json") in str(ei.value) and where in str(ei.value)
    before = _snapshot(bad)
    line = _one_error_line(["report", str(bad)], capsys)
    assert "layers.json" in line and where in line
    assert _snapshot(bad) == before


def test_layers_doc_round_trips_the_counters_document(finished_run: Path) -> None:
    from zerofl_profiler.traces.layers import LayersDoc, read_layers_doc

    raw = json.loads((finished_run / "layers.json").read_text())
    doc = read_layers_doc(finished_run)
    assert doc.to_json() == raw and LayersDoc.from_json(doc.to_json()) == doc
    assert [r.op_class for r in doc.layers] == [r["op_class"] for r in raw["layers"]]
    assert doc.batch_size == TINY["batch_size"] and doc.optimizer == RunConfig(**TINY).optimizer_name


def test_resume_parses_config_toml_once(finished_run: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    import zerofl_profiler.traces.rundir as rundir

    calls: list[Path] = []
    real = rundir.read_stored_run

    def counting(path, **kw):
        calls.append(Path(path))
        return real(path, **kw)

    monkeypatch.setattr(rundir, "read_stored_run", counting)
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    main(["train", "--out", str(copy), "--resume", "--quiet"])  # finished: summary only
    assert len(calls) == 1
    (copy / "checkpoint.pt").unlink()  # now a real resume: lock, trim, redo both rounds
    calls.clear()
    main(["train", "--out", str(copy), "--resume", "--quiet"])
    assert len(calls) == 1
    capsys.readouterr()
    assert len(load_run(copy).rounds) == TINY["rounds"]


def test_a_run_reads_where_its_data_is_not(finished_run: Path, tmp_path: Path) -> None:
    """The stored config is typed without requiring data_dir to exist on the reading machine."""
    import tomllib

    import tomli_w

    moved = tmp_path / "moved"
    shutil.copytree(finished_run, moved)
    cfg = tomllib.loads((moved / "config.toml").read_text())
    cfg.update(dataset="cifar10", data_dir=str(tmp_path / "not-here"))
    (moved / "config.toml").write_text(tomli_w.dumps(cfg))
    data = load_run(moved)
    assert data.config is not None and data.config.data_dir == str(tmp_path / "not-here")
    with pytest.raises(BadInputError, match="not found"):  # training from it still checks the path
        RunConfig(**{**TINY, "dataset": "cifar10", "data_dir": str(tmp_path / "not-here")})


def test_a_version_1_checkpoint_still_resumes_and_is_still_checked(finished_run: Path, tmp_path: Path) -> None:
    """Checkpoints written before the digest existed: the run id is still checked, nothing else."""
    import io

    import torch

    from zerofl_profiler.fl.checkpoint import load_checkpoint, load_own_checkpoint

    old = tmp_path / "old"
    shutil.copytree(finished_run, old)
    ck = load_checkpoint(old)

    def write_v1(run_id: str) -> None:
        buf = io.BytesIO()
        torch.save({"version": 1, "run_id": run_id, "round": ck.round,
                    "global_state": {k: torch.from_numpy(v) for k, v in ck.global_state.items()}}, buf)
        (old / "checkpoint.pt").write_bytes(buf.getvalue())

    write_v1(ck.run_id)
    got = load_own_checkpoint(RunDir(old))
    assert got.config_digest is None and got.round == ck.round
    write_v1("someone-else")
    with pytest.raises(BadInputError, match="another run"):
        load_own_checkpoint(RunDir(old))
