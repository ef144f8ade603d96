"""One background thread per meter that polls every backend needing it (power integration, wraps)."""

from __future__ import annotations

import threading
import time
from typing import Sequence

from ..errors import HardwareError
from .base import Backend


class Sampler:
    """Calls ``poll()`` on each backend every ``interval_s``; records its own CPU time and errors."""

    def __init__(self, backends: Sequence[Backend], interval_s: float) -> None:
        self.backends = list(backends)
        self.interval_s = float(interval_s)
        self.errors: dict[str, str] = {}
        #: failed polls per backend, so a window can tell whether its own span had one
        self.failures: dict[str, int] = {}
        self.polls = 0
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the daemon thread (no-op without backends)."""
        if not self.backends or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="zerofl-energy-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            for b in self.backends:
                try:
                    b.poll()
                except HardwareError as exc:
                    self._failed(b.name, str(exc))
                except Exception as exc:  # a dead sampler would silently lose wraps: record instead
                    self._failed(b.name, f"{type(exc).__name__}: {exc}")
            self.polls += 1
            self.cpu_s = time.thread_time()

    def _failed(self, name: str, message: str) -> None:
        self.errors[name] = message
        self.failures[name] = self.failures.get(name, 0) + 1

    def stop(self) -> None:
        """Stop and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, 5 * self.interval_s))
            self._thread = None
