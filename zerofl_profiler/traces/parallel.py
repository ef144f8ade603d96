"""Reading one large file in worker processes: how many, which byte ranges, and a pool that never leaks.

msgspec holds the GIL while it decodes (two threads decoding two halves of 40,000 trace lines took
as long as one thread doing both), so the columnar loader uses processes. Ranges start and end at
line boundaries, so each worker reads whole lines; results come back in file order. The pool is
shut down before the caller sees a result or an error: pending ranges are cancelled, running
ones finish (each is small), every worker is joined. Workers ignore SIGINT, so Ctrl-C reaches the
parent alone, which stops the pool the same way.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Iterator, Sequence

from ..errors import BadInputError

#: Environment variable capping the worker processes of a load (``1``: read in this process only).
WORKERS_ENV = "ZEROFL_LOAD_WORKERS"
_SCAN_BYTES = 1 << 16


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


def start_method() -> str:
    """fork on Linux (cheap: the child already has the loader imported); spawn elsewhere (fork is unsafe on macOS)."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


def worker_count(requested: int | None) -> int:
    """Processes to use: ``requested``, else ``$ZEROFL_LOAD_WORKERS``, else every usable core, capped by the cores.

    Where the start method is not fork, only an explicit request turns workers on (spawn re-imports
    the caller's main module, which a script without a ``__main__`` guard does not survive).
    """
    if requested is None:
        env = os.environ.get(WORKERS_ENV, "").strip()
        if env:
            try:
                requested = int(env)
            except ValueError:
                raise BadInputError(f"${WORKERS_ENV} must be a whole number of processes, not {env!r}") from None
            if requested < 1:
                raise BadInputError(f"${WORKERS_ENV} must be at least 1, not {requested}")
        elif start_method() != "fork":
            return 1
    if requested is not None and requested < 1:
        raise ValueError(f"workers must be at least 1, not {requested}")
    cores = usable_cores()
    return min(requested or cores, cores)


def line_ranges(path: os.PathLike[str] | str, size: int, parts: int) -> list[tuple[int, int]]:
    """About ``parts`` consecutive non-empty byte ranges covering [0, size), each ending just after a newline
    (the last at ``size``)."""
    cuts = [0]
    with open(path, "rb") as fh:
        for k in range(1, parts):
            pos = max(size * k // parts, cuts[-1] + 1)
            if pos >= size:
                break
            fh.seek(pos - 1)
            while True:  # the first line end at or after pos - 1
                buf = fh.read(_SCAN_BYTES)
                if not buf:
                    pos = size
                    break
                i = buf.find(b"\n")
                if i >= 0:
                    pos = fh.tell() - len(buf) + i + 1
                    break
            if pos >= size:
                break
            cuts.append(pos)
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def ignore_sigint() -> None:
    """Worker initializer: Ctrl-C goes to the parent, which joins the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_in_order(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], workers: int) -> Iterator[Future]:
    """``fn(*args)`` for each args in worker processes, yielded as finished futures in call order.

    The caller reads ``future.result()`` (which re-raises the worker's exception) and should drop
    the future before asking for the next, so that results do not pile up. Leaving the
    loop early (a break, an exception, KeyboardInterrupt) cancels what has not started and joins
    every worker before the exception goes on.
    """
    ctx = multiprocessing.get_context(start_method())
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=ignore_sigint)
    todo = iter(calls)
    pending: deque[Future] = deque()

    def top_up() -> None:  # at most two calls per worker in flight: finished results cannot pile up
        while len(pending) < 2 * workers:
            args = next(todo, None)
            if args is None:
                return
            pending.append(pool.submit(fn, *args))

    try:
        top_up()
        while pending:
            fut = pending.popleft()  # not kept here once handed on: its result is freed when the caller drops it
            fut.exception()  # waits; the result (or error) stays on the future
            top_up()
            yield fut
            del fut
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["WORKERS_ENV", "ignore_sigint", "line_ranges", "run_in_order", "start_method", "usable_cores",
           "worker_count"]
