"""Energy measurement behind one interface (NVML, RAPL, codecarbon, estimate, none).

Contract used by the engines (kept stable while the backends grow)::

    meter = make_meter("auto")            # or NullMeter()
    with meter.window("client-3/round-1") as win:
        ...work...
    win.result    -> EnergyBlock   (measured: source nvml/rapl/codecarbon/none)
    win.estimate  -> EnergyBlock | None   (source "estimate"; never mixed into result)
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from ..traces.schema import EnergyBlock


@dataclass
class Window:
    """A named measurement window; ``result`` and ``estimate`` are set when it closes."""

    name: str
    result: EnergyBlock = field(default_factory=EnergyBlock.none)
    estimate: EnergyBlock | None = None


class NullMeter:
    """Measures nothing and says so (source ``none``), so callers never test for None."""

    def __init__(self, reason: str = "no energy backend selected") -> None:
        self.reason = reason

    @contextmanager
    def window(self, name: str) -> Iterator[Window]:
        """Open a window that records only its duration."""
        win = Window(name)
        t0 = time.perf_counter()
        try:
            yield win
        finally:
            win.result = EnergyBlock(source="none", method="none", duration_s=time.perf_counter() - t0,
                                     skipped={"all": self.reason})

    def close(self) -> None:
        """Nothing to release."""
