"""Failing filesystems: one line naming what failed, the path and the OS reason, exit 1, no partial file.

Tests run as root, so permission bits prove nothing: the errors are injected where the bytes are
written (ENOSPC, EROFS, EACCES), plus one real full disk on a small tmpfs where mounting is allowed.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from zerofl_profiler.cli import main
from zerofl_profiler.traces.atomic import TMP_PREFIX

TINY = ["--rounds", "1", "--clients", "2", "--clients-per-round", "2", "--quiet"]


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def _one_line_exit_1(code: int, err: str) -> str:
    assert code == 1, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def _leftovers(folder: Path) -> list[str]:
    """Temporaries or half files a failed writer left behind."""
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(TMP_PREFIX) or p.name.endswith(".tmp"))


def _raise_on_fsync(monkeypatch, err: int) -> None:
    def fail(fd: int) -> None:
        raise OSError(err, os.strerror(err))
    monkeypatch.setattr(os, "fsync", fail)


def test_train_out_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    line = _one_line_exit_1(*_run(capsys, "train", "--out", str(tmp_path / "afile" / "run"), *TINY))
    assert "afile" in line and "Not a directory" in line


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="no /sys on this system")
def test_train_out_in_sys_is_one_line(capsys):
    line = _one_line_exit_1(*_run(capsys, "train", "--out", "/sys/zerofl-no-such-dir", *TINY))
    assert "/sys/zerofl-no-such-dir" in line


@pytest.mark.parametrize("err", [errno.EROFS, errno.EACCES])
def test_train_read_only_or_denied_run_dir_is_one_line(tmp_path, capsys, monkeypatch, err):
    real = os.mkdir

    def deny(path, *a, **k):
        if str(path).startswith(str(tmp_path)):
            raise OSError(err, os.strerror(err), str(path))
        return real(path, *a, **k)
    monkeypatch.setattr(os, "mkdir", deny)
    line = _one_line_exit_1(*_run(capsys, "train", "--out", str(tmp_path / "run"), *TINY))
    assert str(tmp_path / "run") in line and os.strerror(err) in line


def test_train_full_disk_at_first_write_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    _raise_on_fsync(monkeypatch, errno.ENOSPC)
    line = _one_line_exit_1(*_run(capsys, "train", "--out", str(tmp_path / "run"), *TINY))
    # the first write of a run is its lock file (then config.toml): either is named
    assert "No space left on device" in line and (".lock" in line or "config.toml" in line)
    assert _leftovers(tmp_path) == []
    assert not (tmp_path / "run" / "config.toml").exists()


def test_train_full_disk_at_checkpoint_leaves_no_temporary(tmp_path, capsys, monkeypatch):
    import zerofl_profiler.traces.atomic as atomic

    real_open = atomic.os.fdopen

    def full_after_part(fd, mode, *a, **k):  # the checkpoint's temporary fills the disk half-way
        fh = real_open(fd, mode, *a, **k)
        if "b" in mode:
            real_write = fh.write

            def write(data):
                real_write(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            fh.write = write
        return fh
    monkeypatch.setattr(atomic.os, "fdopen", full_after_part)
    run = tmp_path / "run"
    line = _one_line_exit_1(*_run(capsys, "train", "--out", str(run), *TINY))
    assert "checkpoint.pt" in line and "No space left" in line
    assert _leftovers(run) == [] and not (run / "checkpoint.pt").exists()


def test_train_full_disk_appending_the_trace_names_the_file(tmp_path, capsys, monkeypatch):
    import zerofl_profiler.traces.io as tio

    real = tio.JsonlWriter.write

    def full(self, record):
        if self.path.name == "trace.jsonl":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, record)
    monkeypatch.setattr(tio.JsonlWriter, "write", full)
    # the stand-in raises below JsonlWriter's own handling: the top-level line still says what and why
    line = _one_line_exit_1(*_run(capsys, "train", "--out", str(tmp_path / "run"), *TINY))
    assert "No space left" in line


def test_trace_append_on_a_full_disk_is_an_output_error_naming_the_file(tmp_path, monkeypatch):
    from zerofl_profiler.errors import OutputError
    from zerofl_profiler.traces.io import JsonlWriter

    w = JsonlWriter(tmp_path / "trace.jsonl")
    _raise_on_fsync(monkeypatch, errno.ENOSPC)
    with pytest.raises(OutputError, match=r"cannot append to .*trace.jsonl: No space left"):
        w.write({"a": 1})
    w.close()


def test_resume_cleans_stale_temporaries(tmp_path, capsys):
    run = tmp_path / "run"
    code, err = _run(capsys, "train", "--out", str(run), *TINY)
    assert code == 0, err
    (run / "checkpoint.pt").unlink()  # as if killed before the first checkpoint: round 1 is redone
    for name in (TMP_PREFIX + "checkpoint.pt.x1y2", "checkpoint.pt.tmp", "trace.jsonl.tmp"):
        (run / name).write_bytes(b"half")
    code, err = _run(capsys, "train", "--out", str(run), "--resume", "--quiet")
    assert code == 0, err
    assert _leftovers(run) == []
    assert (run / "checkpoint.pt").is_file()




@pytest.mark.parametrize("fmt", ["html", "md", "json"])
def test_report_full_disk_leaves_old_file_and_no_partial(finished_run, tmp_path, capsys, monkeypatch, fmt):
    out = tmp_path / f"r.{fmt}"
    out.write_text("old")
    _raise_on_fsync(monkeypatch, errno.ENOSPC)
    line = _one_line_exit_1(*_run(capsys, "report", str(finished_run), "--format", fmt, "--out", str(out)))
    assert str(out) in line and "No space left" in line
    assert out.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_plot_full_disk_leaves_no_partial_figure(finished_run, tmp_path, capsys, monkeypatch):
    figs = tmp_path / "figs"
    figs.mkdir()
    _raise_on_fsync(monkeypatch, errno.ENOSPC)
    line = _one_line_exit_1(*_run(capsys, "plot", str(finished_run), "--out", str(figs)))
    assert "No space left" in line
    assert list(figs.iterdir()) == []


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 KiB tmpfs: room for a run's config and layers, not for its checkpoint."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not allowed here: {p.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.slow
def test_real_full_disk_during_train_and_report(small_tmpfs, finished_run, capsys):
    run = small_tmpfs / "run"
    line = _one_line_exit_1(*_run(capsys, "train", "--out", str(run), *TINY))
    assert "No space left on device" in line
    assert _leftovers(small_tmpfs) == []
    # fill the disk to the last byte: a report then gets ENOSPC and must leave no 0-byte or partial file
    shutil.rmtree(run, ignore_errors=True)
    with open(small_tmpfs / "filler", "ab", buffering=0) as fh:
        with pytest.raises(OSError):
            while True:
                fh.write(b"\0" * 4096)
    out = small_tmpfs / "r.html"
    line = _one_line_exit_1(*_run(capsys, "report", str(finished_run), "--format", "html", "--out", str(out)))
    assert "No space left" in line
    assert not out.exists() and _leftovers(small_tmpfs) == []
