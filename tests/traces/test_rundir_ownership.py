"""Only traces/rundir.py writes into a run directory: a scan of the source and a watch of a real run."""

from __future__ import annotations

import ast
import builtins
import io
import os
import sys
from pathlib import Path

import pytest

from zerofl_profiler.config import RunConfig
from zerofl_profiler.traces.atomic import TMP_PREFIX

PACKAGE = Path(__file__).resolve().parents[2] / "zerofl_profiler"
#: The run directory's owner and the two helpers it writes through.
OWNER = "traces/rundir.py"
HELPERS = ("traces/atomic.py", "traces/io.py")
RUN_FILE_NAMES = {"TRACE_FILE", "ROUNDS_FILE", "CONFIG_FILE", "LAYERS_FILE", "CHECKPOINT_FILE", "LOCK_FILE"}
RUN_FILE_LITERALS = {"trace.jsonl", "rounds.jsonl", "config.toml", "layers.json", "checkpoint.pt", ".lock"}
_WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"}


def _mode(call: ast.Call) -> str | None:
    for kw in call.keywords:
        if kw.arg == "mode" and isinstance(kw.value, ast.Constant):
            return kw.value.value
    if len(call.args) >= 2 and isinstance(call.args[1], ast.Constant) and isinstance(call.args[1].value, str):
        return call.args[1].value
    return None


def _is_write(call: ast.Call, bytes_buffers: set[str]) -> bool:
    """Does this call write a file (open for writing, write_text, atomic_*, JsonlWriter, rename, torch.save)?"""
    fn = call.func
    name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
    owner = fn.value.id if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) else ""
    if name in ("open", "fdopen") and owner == "os" and name == "open":
        flags = {n.attr for n in ast.walk(call) if isinstance(n, ast.Attribute)}
        return bool(flags & _WRITE_FLAGS)
    if name in ("open", "fdopen"):
        m = _mode(call)
        return bool(m) and any(c in m for c in "wax+")
    if name in ("write_text", "write_bytes", "atomic_write", "atomic_open", "JsonlWriter", "mkstemp"):
        return True
    if owner in ("os", "shutil") and name in ("replace", "rename", "truncate", "copy", "copyfile", "copy2", "move"):
        return True
    if owner == "torch" and name == "save":
        target = call.args[1] if len(call.args) > 1 else None
        return not (isinstance(target, ast.Name) and target.id in bytes_buffers)
    return False


def _functions_with_writes(path: Path) -> list[tuple[str, int, set[str]]]:
    """(function, line, run-file names it mentions) for every function of ``path`` that writes a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        buffers = {t.id for n in ast.walk(fn) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                   and getattr(n.value.func, "attr", "") == "BytesIO" for t in n.targets if isinstance(t, ast.Name)}
        writes = [n for n in ast.walk(fn) if isinstance(n, ast.Call) and _is_write(n, buffers)]
        if not writes:
            continue
        names = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id in RUN_FILE_NAMES}
        names |= {n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and n.value in RUN_FILE_LITERALS}
        out.append((fn.name, writes[0].lineno, names))
    return out


def _rel(p: Path) -> str:
    return p.relative_to(PACKAGE).as_posix()


def test_the_engines_write_nothing_themselves() -> None:
    """fl/ (both engines, the client, the checkpoint codec) asks traces.rundir for every write."""
    found = [f"{_rel(p)}:{line} {fn}()" for p in sorted((PACKAGE / "fl").rglob("*.py"))
             for fn, line, _ in _functions_with_writes(p)]
    assert not found, "\n".join(found)


def test_no_writer_outside_rundir_names_a_run_file() -> None:
    found = []
    for p in sorted(PACKAGE.rglob("*.py")):
        if _rel(p) in (OWNER, *HELPERS):
            continue
        for fn, line, names in _functions_with_writes(p):
            if names:
                found.append(f"{_rel(p)}:{line} {fn}() writes and names {sorted(names)}")
    assert not found, "\n".join(found)


def test_the_scan_sees_writes() -> None:
    """Not vacuous: the scan finds the owner's writes and a made-up offender."""
    owner = {fn for fn, _, _ in _functions_with_writes(PACKAGE / OWNER)}
    assert {"acquire", "create", "write_layers", "trim_after", "open_appenders", "write_checkpoint"} <= owner
    src = ("def bad(d):\n    (d / TRACE_FILE).write_text('x')\n"
           "def ok(buf):\n    b = io.BytesIO()\n    torch.save(1, b)\n"
           "def bad2(p):\n    with open(p / 'rounds.jsonl', 'a') as fh: fh.write('x')\n")
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"zerofl-scan-{os.getpid()}.py"
    tmp.write_text(src)
    try:
        got = {(fn, tuple(sorted(names))) for fn, _, names in _functions_with_writes(tmp)}
    finally:
        tmp.unlink()
    assert got == {("bad", ("TRACE_FILE",)), ("bad2", ("rounds.jsonl",))}


# ----------------------------------------------------------------------------- runtime watch
class _Watch:
    """Record who opens a path under ``root`` for writing (the nearest package frame that is not a helper)."""

    def __init__(self, root: Path) -> None:
        self.root = str(root.resolve())
        self.writers: list[tuple[str, str]] = []

    def note(self, path: object, writing: bool) -> None:
        if not writing or not isinstance(path, (str, bytes, os.PathLike)):
            return
        try:
            p = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return
        if not (p == self.root or p.startswith(self.root + os.sep)):
            return
        base = os.path.basename(p)
        if base.startswith(TMP_PREFIX):  # an atomic replace: the temporary is named after its target
            base = base[len(TMP_PREFIX):].rsplit(".", 1)[0]
        f = sys._getframe(2)
        while f is not None:
            name = f.f_code.co_filename
            if str(PACKAGE) in name and not any(name.endswith(h) for h in HELPERS):
                self.writers.append((_rel(Path(name)), base))
                return
            f = f.f_back
        self.writers.append(("<outside the package>", base))


@pytest.fixture
def watch(monkeypatch, tmp_path):
    w = _Watch(tmp_path)
    real_open, real_os_open = builtins.open, os.open

    def fake_open(file, mode="r", *a, **k):
        w.note(file, any(c in mode for c in "wax+"))
        return real_open(file, mode, *a, **k)

    def fake_os_open(path, flags, *a, **k):
        w.note(path, bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC)))
        return real_os_open(path, flags, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    return w


def test_a_run_and_its_resume_write_only_through_rundir(watch, tmp_path) -> None:
    from zerofl_profiler.fl.engine import run

    cfg = RunConfig(clients=3, clients_per_round=2, rounds=2, local_epochs=1, batch_size=32, energy="none")
    out = tmp_path / "run"
    run(cfg, out, progress=False)
    (out / "checkpoint.pt").unlink()  # resume from scratch: trims, rewrites, re-checkpoints
    run(cfg, out, resume=True, progress=False)
    files = {f for _, f in watch.writers}
    assert files == {"config.toml", "layers.json", "trace.jsonl", "rounds.jsonl", "checkpoint.pt", ".lock"}
    assert {who for who, _ in watch.writers} == {OWNER}, watch.writers


def test_readers_never_write_into_the_run(watch, tmp_path, capsys) -> None:
    from zerofl_profiler.cli import main

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
    try:
        from runfactory import write_run
    finally:
        sys.path.pop(0)
    run_dir = write_run(tmp_path, "r", 0.9)
    watch.writers.clear()
    elsewhere = tmp_path.parent / f"{tmp_path.name}-out"
    for argv in (["report", str(run_dir)], ["estimate", str(run_dir), "--device", "a100"],
                 ["plot", str(run_dir), "--out", str(elsewhere)]):
        try:
            main(argv)
        except SystemExit as exc:
            assert exc.code in (0, None), (argv, capsys.readouterr().err)
    capsys.readouterr()
    assert watch.writers == []
