"""A replay backend: recorded cumulative readings played back, so tests need no hardware.

Each ``read`` returns the next recorded reading (the last one repeats once the recording ends).
A recording is a list of ``{"t_s": seconds, "energy_j": {domain: cumulative J}}`` (``t_s``
optional: the real clock is used when it is missing), in memory or as a JSON-lines file named by
``$ZEROFL_POWER_REPLAY``. Results carry the recorded ``source`` and the flag ``replayed``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import BadInputError
from ..vocab import MEASURED_SOURCES
from .base import Backend, BackendStatus, Delta, Reading, now_s, register_backend

REPLAY_ENV = "ZEROFL_POWER_REPLAY"


def load_recording(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON-lines recording; a malformed line is bad input naming the line."""
    out: list[dict[str, Any]] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"cannot read replay file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"replay file {path} is not UTF-8 text") from None
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            energy = {str(k): float(v) for k, v in rec["energy_j"].items()}
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise BadInputError(f"{path}:{i}: expected {{\"t_s\": s, \"energy_j\": {{domain: J}}}}") from None
        out.append({"t_s": rec.get("t_s"), "energy_j": energy})
    if not out:
        raise BadInputError(f"replay file {path} holds no readings")
    return out


class ReplayBackend(Backend):
    """Plays back recorded cumulative readings, one per read."""

    name = "replay"
    kind = "measured"
    method = "replay"

    def __init__(self, samples: Sequence[Mapping[str, Any]], *, source: str = "rapl") -> None:
        super().__init__()
        if source not in MEASURED_SOURCES:
            raise BadInputError(f"replay source must be one of {MEASURED_SOURCES}, got {source!r}")
        if not samples:
            raise BadInputError("a replay needs at least one reading")
        self.samples = [dict(s) for s in samples]
        self.source = source
        self._i = 0
        self.reads = 0

    def read(self) -> Reading:
        """The next recorded reading."""
        with self._lock:
            s = self.samples[min(self._i, len(self.samples) - 1)]
            self._i += 1
            self.reads += 1
        t = s.get("t_s")
        return Reading(now_s() if t is None else float(t), dict(s["energy_j"]), ("replayed",))

    def end(self, token: Any) -> list[Delta]:
        """As the base, reported under the recorded source."""
        return [Delta(self.source, d.kind, d.method, d.domains_j, d.total_j, d.duration_s, d.flags)
                for d in super().end(token)]


def probe() -> BackendStatus:
    """Available only when a recording is named by the environment."""
    path = os.environ.get(REPLAY_ENV)
    if not path:
        return BackendStatus("replay", False, f"set {REPLAY_ENV} to a recording (tests only)")
    if not Path(path).is_file():
        return BackendStatus("replay", False, f"{REPLAY_ENV}={path} is not a file")
    return BackendStatus("replay", True, f"replaying {path}")


@register_backend("replay", probe=probe, auto=False, order=95, doc="recorded readings (tests)")
def make_replay(**_: object) -> ReplayBackend:
    """Factory for the registry: the recording named by $ZEROFL_POWER_REPLAY."""
    path = os.environ.get(REPLAY_ENV)
    if not path:
        raise BadInputError(f"the replay backend needs {REPLAY_ENV} set to a recording")
    return ReplayBackend(load_recording(path))
