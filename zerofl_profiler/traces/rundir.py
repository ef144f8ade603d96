"""RUN_DIR has one owner: every file of a run directory is named, created, appended, replaced,
trimmed and locked here, and nowhere else.

::

    RUN_DIR/config.toml     resolved options + run_id, environment, partition_stats (written once)
    RUN_DIR/trace.jsonl     ClientRoundRecord per line, appended
    RUN_DIR/rounds.jsonl    RoundRecord per line, appended
    RUN_DIR/layers.json     LayersDoc (the counter's one-step table), written once
    RUN_DIR/checkpoint.pt   the engine's resume point, replaced after every round
    RUN_DIR/.lock           held (fcntl.flock) by the one process writing the run; records PID and host

Writers: :meth:`RunDir.acquire` takes the lock first, and every writing method refuses to run
without it. A second writer fails at once with :class:`RunLockedError` (one line naming the
holder's PID, exit 2). The kernel drops a flock when its process dies, so a lock file left by a
killed writer is simply taken over, with one notice on stderr. Readers (report, estimate, plot)
never take the lock: whole files are replaced by rename (``atomic.atomic_write``) and the JSONL
readers stop at an unterminated last line, so a reader sees complete records only.

Durability (one rule, stated here and in docs/traces.md): every record is flushed to the OS as it
is written, so a killed process loses nothing. ``rounds.jsonl`` is fsynced per record; the trace is
fsynced once per round, before that round's record and its checkpoint are written. A power cut
can therefore lose only client records of the round in progress, which ``--resume`` redoes
anyway (it restarts after the checkpointed round and trims the rest).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Mapping

from ..config import RunConfig, config_digest, from_stored, load_toml, option_keys
from ..errors import BadInputError, ConfigError, OutputError, TraceFormatError, ZeroflError
from .atomic import TMP_PREFIX, atomic_open, atomic_write, clean_stale_temporaries, fsync_dir
from .io import JsonlWriter, iter_jsonl, truncate_partial_tail
from .layers import LayersDoc, read_layers_doc
from .schema import CONFIG_FILE, LAYERS_FILE, ROUNDS_FILE, TRACE_FILE, ClientRoundRecord, RoundRecord

CHECKPOINT_FILE = "checkpoint.pt"
LOCK_FILE = ".lock"
#: Every file a run directory may hold (anything else in it is not ours).
#: Flower's and Ray's error output (tracebacks of dead ClientApp workers), beside the trace.
FLOWER_LOG = "flower.log"
RUN_FILES = (CONFIG_FILE, TRACE_FILE, ROUNDS_FILE, LAYERS_FILE, CHECKPOINT_FILE, LOCK_FILE, FLOWER_LOG)


class RunLockedError(BadInputError):
    """Another live process is writing this run directory (exit 2)."""


@dataclass(frozen=True)
class LockHolder:
    """Who wrote a lock file: its PID and host."""

    pid: int
    host: str

    @classmethod
    def parse(cls, text: str) -> "LockHolder | None":
        """The holder a lock file records, or None for an empty or foreign file."""
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit():
            return None
        return cls(int(parts[0]), parts[1])


@dataclass(frozen=True)
class StoredRun:
    """What a run's config.toml holds: the typed options and the run's metadata."""

    config: RunConfig
    run_id: str
    digest: str  # config_digest of the stored options: the identity a checkpoint must carry
    environment: Mapping[str, Any] = field(default_factory=dict)
    partition_stats: Mapping[str, Any] = field(default_factory=dict)
    trace: Mapping[str, Any] = field(default_factory=dict)  # the [trace] table (run constants; empty: schema v1)

    @property
    def name(self) -> str | None:
        """The run's label, if one was given."""
        return self.config.name


def _host() -> str:
    return socket.gethostname() or "localhost"


class RunDir(os.PathLike[str]):
    """One run directory: its file names, its readers, and (with the lock held) its writers."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._lock_fh: IO[str] | None = None
        self._created = False
        self._trace: JsonlWriter | None = None
        self._rounds: JsonlWriter | None = None
        self._stored: StoredRun | None = None

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # ------------------------------------------------------------------ names
    @property
    def config_path(self) -> Path:
        """RUN_DIR/config.toml."""
        return self.path / CONFIG_FILE

    @property
    def trace_path(self) -> Path:
        """RUN_DIR/trace.jsonl."""
        return self.path / TRACE_FILE

    @property
    def rounds_path(self) -> Path:
        """RUN_DIR/rounds.jsonl."""
        return self.path / ROUNDS_FILE

    @property
    def layers_path(self) -> Path:
        """RUN_DIR/layers.json."""
        return self.path / LAYERS_FILE

    @property
    def checkpoint_path(self) -> Path:
        """RUN_DIR/checkpoint.pt."""
        return self.path / CHECKPOINT_FILE

    @property
    def lock_path(self) -> Path:
        """RUN_DIR/.lock."""
        return self.path / LOCK_FILE

    # ------------------------------------------------------------------ reading (never locks)
    def is_fresh(self) -> bool:
        """True when nothing but our lock (and stale temporaries) is in the directory, or it is absent."""
        if not self.path.exists():
            return True
        if not self.path.is_dir():
            return False
        return all(p.name == LOCK_FILE or p.name.startswith(TMP_PREFIX) for p in self.path.iterdir())

    def read_config(self) -> StoredRun:
        """The stored options and metadata, parsed once per RunDir (a resume reads them once)."""
        if self._stored is None:
            self._stored = read_stored_run(self.config_path, default_run_id=self.path.name)
        return self._stored

    def read_layers(self) -> LayersDoc | None:
        """The layers document, or None when the run has none."""
        return read_layers_doc(self.layers_path) if self.layers_path.is_file() else None

    def read_checkpoint(self) -> bytes | None:
        """The checkpoint's bytes, or None before the first round finished."""
        try:
            return self.checkpoint_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ZeroflError(f"{self.checkpoint_path}: unreadable checkpoint ({exc.strerror}); cannot resume") from None

    # ------------------------------------------------------------------ the lock
    @property
    def locked(self) -> bool:
        """Whether this object holds the run's lock."""
        return self._lock_fh is not None

    def acquire(self) -> None:
        """Take the writer's lock (creating the directory); RunLockedError at once if a live process holds it."""
        import fcntl

        if self._lock_fh is not None:
            return
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"run directory {self.path} is a file, not a directory")
        try:
            try:
                self.path.mkdir(parents=True)
                self._created = True
            except FileExistsError:
                pass
            fh = open(self.lock_path, "a+", encoding="utf-8")
        except OSError as exc:
            raise OutputError.from_os(exc, self.path, "cannot create run directory") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_of(fh)
            fh.close()
            who = f"PID {holder.pid} on {holder.host}" if holder else "another process"
            raise RunLockedError(f"{self.path} is being written by {who} (lock {self.lock_path}); "
                                 f"wait for it to finish or choose another --out") from None
        except OSError as exc:
            fh.close()
            raise OutputError.from_os(exc, self.lock_path, "cannot lock") from None
        fh.seek(0)
        stale = LockHolder.parse(fh.read())
        if stale is not None and stale != LockHolder(os.getpid(), _host()):
            print(f"notice: {self.lock_path}: taking over the lock left by PID {stale.pid} on {stale.host}, "
                  f"which no longer holds it", file=sys.stderr)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()} {_host()}\n")
            fh.flush()
            os.fsync(fh.fileno())
        except OSError as exc:
            fh.close()  # closing drops the flock too
            raise OutputError.from_os(exc, self.lock_path, "cannot write") from None
        self._lock_fh = fh
        clean_stale_temporaries(self.path)
        for name in LEGACY_TMP:  # temporaries of writers older than atomic.py
            (self.path / name).unlink(missing_ok=True)

    def release(self) -> None:
        """Close the appenders, clear the holder from the lock file and drop the lock."""
        import fcntl

        for w in (self._trace, self._rounds):
            if w is not None:
                w.close()
        self._trace = self._rounds = None
        fh, self._lock_fh = self._lock_fh, None
        if fh is None:
            return
        try:
            fh.seek(0)
            fh.truncate()  # an empty lock file: a clean exit, no takeover notice for the next writer
            fh.flush()
        except OSError:
            pass
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    def discard(self) -> None:
        """Release, and remove the directory again if this writer created it and wrote nothing into it."""
        self.release()
        if self._created and self.path.is_dir():
            if all(p.name == LOCK_FILE for p in self.path.iterdir()):
                try:
                    self.lock_path.unlink(missing_ok=True)
                    self.path.rmdir()
                except OSError:
                    pass

    def __enter__(self) -> "RunDir":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _need_lock(self) -> None:
        if self._lock_fh is None:
            raise ZeroflError(f"internal error: writing {self.path} without holding its lock")

    # ------------------------------------------------------------------ writing (lock held)
    def create(self, cfg: RunConfig, run_id: str, layers: LayersDoc, *, environment: Mapping[str, Any],
               partition_stats: Mapping[str, Any], trace: Mapping[str, Any] | None = None) -> StoredRun:
        """Write a new run's config.toml and layers.json (each atomically); return what was stored."""
        self._need_lock()
        if not self.is_fresh():
            raise ConfigError(f"run directory {self.path} already exists; pass --resume to continue it "
                              f"or choose another --out")
        meta: dict[str, Any] = {"environment": dict(environment), "partition_stats": dict(partition_stats)}
        if trace is not None:
            meta["trace"] = dict(trace)
        text = cfg.to_toml_text(run_id=run_id, **meta)
        atomic_write(self.config_path, text)
        self.write_layers(layers)
        self._stored = None
        return self.read_config()

    def write_layers(self, layers: LayersDoc) -> None:
        """Replace layers.json (a resume writes it when the first process died before it)."""
        self._need_lock()
        atomic_write(self.layers_path, layers.to_text())

    def trim_after(self, last_round: int) -> None:
        """Drop a torn last line and every record of rounds after ``last_round`` (they are redone)."""
        self._need_lock()
        for path in (self.trace_path, self.rounds_path):
            if not path.exists():
                continue
            truncate_partial_tail(path)
            keep = [json.dumps(obj, separators=(",", ":")) for lineno, obj in iter_jsonl(path)
                    if _round_of(obj, path, lineno) <= last_round]
            with atomic_open(path, "w") as fh:
                fh.write("".join(line + "\n" for line in keep))

    def open_appenders(self, energy_skipped: Mapping[str, str] | None = None) -> None:
        """Open trace.jsonl and rounds.jsonl for appending (created if absent, durably).

        ``energy_skipped`` (the run's [trace] skip reasons) is left out of every record that would repeat it.
        """
        self._need_lock()
        # client records: flushed per line, fsynced per round (sync_trace); round records: fsynced per line
        self._trace = JsonlWriter(self.trace_path, fsync=False, energy_skipped=energy_skipped)
        self._rounds = JsonlWriter(self.rounds_path, fsync=True, energy_skipped=energy_skipped)
        fsync_dir(self.path)

    def append_client(self, record: ClientRoundRecord) -> None:
        """Append one client record (flushed: a killed process loses none)."""
        self._need_lock()
        if self._trace is None:
            raise ZeroflError(f"internal error: {self.trace_path} is not open")
        self._trace.write(record)

    def end_round(self, record: RoundRecord) -> None:
        """The end of a round: its client records made durable (the trace's one fsync per round), then
        its round record appended and fsynced. The caller writes the checkpoint after this."""
        self._need_lock()
        if self._rounds is None:
            raise ZeroflError(f"internal error: {self.rounds_path} is not open")
        _fsync_file(self.trace_path)
        self._rounds.write(record)

    def write_checkpoint(self, data: bytes) -> None:
        """Replace checkpoint.pt atomically: a kill leaves the old one or the new one."""
        self._need_lock()
        atomic_write(self.checkpoint_path, data)


def as_rundir(path: "str | os.PathLike[str] | RunDir") -> RunDir:
    """The RunDir itself when given one (so its parsed config.toml is reused), else a new one."""
    return path if isinstance(path, RunDir) else RunDir(path)


def read_stored_run(path: str | os.PathLike[str], *, default_run_id: str = "") -> StoredRun:
    """Parse a run's config.toml once: typed options (paths need not exist here) and metadata."""
    p = Path(path)
    data = load_toml(p, missing=f"{p.parent} holds no {CONFIG_FILE} (was it started by `train`?)")
    options = option_keys(data)
    try:
        # runs recorded before these keys trained on the CPU and never augmented
        cfg = from_stored({"accelerator": "cpu", "augment": False, **options})
    except BadInputError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    env, stats = data.get("environment", {}), data.get("partition_stats", {})
    trace = data.get("trace", {})
    return StoredRun(cfg, str(data.get("run_id") or default_run_id), config_digest(options),
                     env if isinstance(env, Mapping) else {}, stats if isinstance(stats, Mapping) else {},
                     trace if isinstance(trace, Mapping) else {})


#: Temporaries a killed run of an older version may have left (before every write went through atomic.py).
LEGACY_TMP = ("checkpoint.pt.tmp", "trace.jsonl.tmp", "rounds.jsonl.tmp")


def append_log(path: str | os.PathLike[str], text: str) -> None:
    """Append diagnostic text to a run's log file (RUN_DIR/flower.log); a failed write drops it.

    The detail a one-line error leaves out goes here; the failure itself is in the trace, so
    losing the log loses no data (and a log write never takes the run's lock).
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "a", encoding="utf-8") as fh:
            fh.write(text)
    except (OSError, ValueError):
        pass


def _round_of(obj: Mapping[str, Any], path: Path, lineno: int) -> int:
    """A record's round, or a one-line TraceFormatError naming the line (resume never guesses)."""
    v = obj.get("round", 0)
    if isinstance(v, bool) or not isinstance(v, int):
        raise TraceFormatError(f"{path}:{lineno}: round must be an integer, got {str(v)[:40]!r}; cannot resume")
    return v


def _fsync_file(path: Path) -> None:
    """Make a file's written data durable (fsync acts on the file, whichever descriptor asks)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise OutputError.from_os(exc, path, "cannot sync") from None


__all__ = ["CHECKPOINT_FILE", "FLOWER_LOG", "LOCK_FILE", "RUN_FILES", "append_log", "LockHolder", "RunDir", "RunLockedError", "StoredRun",
           "as_rundir", "read_stored_run"]


#: How long a process that lost the lock waits for the winner to write its PID (it does so just after locking).
HOLDER_WAIT_S = 0.5


def _holder_of(fh: IO[str]) -> LockHolder | None:
    """The lock file's holder; a winner that has locked but not yet written its PID is waited for briefly."""
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        fh.seek(0)
        holder = LockHolder.parse(fh.read())
        if holder is not None or time.monotonic() >= deadline:
            return holder
        time.sleep(0.01)
