"""Whole-file writes that a kill, a full disk or a read-only filesystem can never leave half done.

Every command that writes a whole file (reports, figures, device files, exports, the run
directory's config/layers/checkpoint) goes through here: the bytes go to a temporary file in the
same directory, which is flushed and fsynced, renamed over the target, and the directory is
fsynced so the rename itself survives a power cut. On any failure the temporary file is removed,
the old target (if any) is untouched, and the OS error is raised as one `OutputError` naming the
path and the OS reason.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal, overload

from ..errors import OutputError

TMP_PREFIX = ".zerofl-tmp-"


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename or a new file in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@overload
def atomic_open(path: str | os.PathLike[str], mode: Literal["w"] = "w") -> contextlib.AbstractContextManager[IO[str]]: ...
@overload
def atomic_open(path: str | os.PathLike[str], mode: Literal["wb"]) -> contextlib.AbstractContextManager[IO[bytes]]: ...


@contextlib.contextmanager  # type: ignore[misc]
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO]:  # type: ignore[type-arg]
    """Open a temporary file that replaces `path` only when the block exits without an error."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + target.name + ".", dir=directory)
    except OSError as exc:
        raise OutputError.from_os(exc, target, "cannot write") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; an output file is normally readable
        fh = os.fdopen(fd, mode, encoding="utf-8" if mode == "w" else None)
    except BaseException:
        os.close(fd)
        _unlink(tmp)
        raise
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _unlink(tmp)
        raise OutputError.from_os(exc, target, "cannot write") from None
    except BaseException:
        _unlink(tmp)
        raise
    fsync_dir(directory)


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Replace `path` with `data` in one step: readers see the old file or the new one, never a part."""
    if isinstance(data, bytes):
        with atomic_open(path, "wb") as fh:
            fh.write(data)
    else:
        with atomic_open(path, "w") as fh:
            fh.write(data)


def clean_stale_temporaries(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove temporaries a killed writer left in `directory`; returns what was removed."""
    removed: list[Path] = []
    d = Path(directory)
    if not d.is_dir():
        return removed
    for p in d.iterdir():
        if p.name.startswith(TMP_PREFIX) and p.is_file():
            _unlink(p)
            removed.append(p)
    return removed


def _unlink(p: str | os.PathLike[str]) -> None:
    with contextlib.suppress(OSError):
        os.unlink(p)
