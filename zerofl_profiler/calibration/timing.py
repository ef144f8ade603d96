"""Wall-clock timing in interleaved rounds: every case once per round, medians over rounds.

Why interleaved: on a shared or thermally throttled machine the speed drifts over minutes;
timing case A fully before case B would turn that drift into a difference between A and B.
Running every case once per round (in a rotating order) spreads the drift over all of them,
and the spread across rounds is the noise floor we report beside any error.

Clocks: ``wall`` (time.perf_counter) is the real elapsed time and the default. ``cpu``
(time.process_time, the process's CPU time) is for a *shared* machine with torch on one
thread: there the wall clock mostly measures how long the scheduler kept us waiting behind
other processes, while the CPU time of a single-threaded step is what it would take on an idle
machine. With more than one thread, CPU time sums the threads and is not a duration.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

Sync = Callable[[], None]
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def _noop() -> None:
    return None


@dataclass(frozen=True)
class Timing:
    """Per-call seconds of one case, one sample per round."""

    name: str
    samples_s: tuple[float, ...]
    inner: int

    @property
    def median_s(self) -> float:
        """Median over rounds."""
        return float(np.median(self.samples_s))

    @property
    def spread(self) -> float:
        """(p90 - p10) / median over rounds: the noise floor of this case."""
        if len(self.samples_s) < 2:
            return 0.0
        lo, hi = np.percentile(self.samples_s, [10, 90])
        return float((hi - lo) / self.median_s) if self.median_s > 0 else 0.0


def check_clock(clock: str, threads: int, device: str = "cpu") -> Callable[[], float]:
    """The clock function; ``cpu`` only makes sense for one CPU thread."""
    from ..errors import BadInputError

    if clock not in CLOCKS:
        raise BadInputError(f"unknown clock {clock!r}; known: {', '.join(CLOCKS)}")
    if clock == "cpu" and (threads != 1 or device != "cpu"):
        raise BadInputError("--clock cpu needs --threads 1 on the CPU (CPU time sums threads and misses GPU time)")
    return CLOCKS[clock]


def _once(fn: Callable[[], object], n: int, sync: Sync, clock: Callable[[], float]) -> float:
    sync()
    t0 = clock()
    for _ in range(n):
        fn()
    sync()
    return (clock() - t0) / n


def time_interleaved(fns: Mapping[str, Callable[[], object]], rounds: int, *, warmup: int = 1,
                     min_sample_s: float = 0.005, max_inner: int = 1000, sync: Sync = _noop,
                     clock: Callable[[], float] = time.perf_counter, warm_calls: int = 0,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, Timing]:
    """Time each callable ``rounds`` times, interleaved; short ones are repeated ``inner`` times per sample.

    ``progress(done, total)`` is called after every round (for an ETA on long calibrations).

    ``warm_calls`` untimed calls precede every sample, so a sample measures the steady state
    (caches holding this case's weights and activations, as in a training loop) even though
    the other cases ran in between.
    """
    inner: dict[str, int] = {}
    for name, fn in fns.items():
        for _ in range(max(0, warmup)):
            fn()
        t = _once(fn, 1, sync, clock)
        inner[name] = int(min(max_inner, max(1, np.ceil(min_sample_s / max(t, 1e-9)))))
    names = list(fns)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(max(1, rounds)):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            for _ in range(warm_calls):
                fns[name]()
            samples[name].append(_once(fns[name], inner[name], sync, clock))
        if progress is not None:
            progress(r + 1, max(1, rounds))
    return {n: Timing(n, tuple(samples[n]), inner[n]) for n in names}
