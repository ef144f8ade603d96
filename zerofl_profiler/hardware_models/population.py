"""Heterogeneous client populations: `--device-mix NAME=SHARE,...` and its seeded assignment.

Each distinct client id is one physical device for the whole run. Assignment uses exact quotas
(largest remainder: a 0.3 share of 10 clients is exactly 3 of them) and a seeded shuffle, so the
straggler is a real member of the mix rather than an accident of sampling, and the same seed and
client ids always give the same assignment (it is recorded in the output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import BadInputError
from .records import DeviceProfile


@dataclass(frozen=True)
class DeviceMix:
    """A population: device profiles and their shares (normalised to sum to 1)."""

    spec: str
    profiles: tuple[DeviceProfile, ...]
    shares: tuple[float, ...]

    @property
    def name(self) -> str:
        """Label used in tables: mix(name=share,...)."""
        return "mix(" + ",".join(f"{p.name}={s:g}" for p, s in zip(self.profiles, self.shares)) + ")"

    def assign(self, client_ids: Sequence[int] | np.ndarray, seed: int = 0) -> np.ndarray:
        """Device index per distinct client id, in the order of ``np.unique(client_ids)``."""
        ids = np.unique(np.asarray(client_ids, dtype=np.int64))
        n = len(ids)
        quotas = np.array(self.shares) * n
        counts = np.floor(quotas).astype(np.int64)
        rest = n - int(counts.sum())
        if rest > 0:  # largest remainder, ties to the earlier device
            order = np.argsort(-(quotas - counts), kind="stable")
            counts[order[:rest]] += 1
        labels = np.repeat(np.arange(len(self.profiles)), counts)
        rng = np.random.default_rng(seed)
        rng.shuffle(labels)
        return labels

    def assignment(self, client_ids: Sequence[int] | np.ndarray, seed: int = 0) -> dict[int, str]:
        """client id -> device name (what the output records)."""
        ids = np.unique(np.asarray(client_ids, dtype=np.int64))
        lab = self.assign(ids, seed)
        return {int(c): self.profiles[int(i)].name for c, i in zip(ids, lab)}

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {"spec": self.spec, "devices": [p.name for p in self.profiles], "shares": list(self.shares)}


def parse_mix(text: str, resolve: Callable[[str], DeviceProfile]) -> DeviceMix:
    """Parse 'jetson-nano=0.5,snapdragon-865-cpu=0.5'; shares must be positive (normalised to 1)."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise BadInputError(f"malformed --device-mix {text!r}: expected NAME=SHARE,...")
    profiles: list[DeviceProfile] = []
    shares: list[float] = []
    for item in items:
        name, sep, share = item.rpartition("=")
        if not sep or not name.strip():
            raise BadInputError(f"malformed --device-mix entry {item!r}: expected NAME=SHARE")
        try:
            s = float(share)
        except ValueError:
            raise BadInputError(f"malformed --device-mix share {share!r} for {name!r}: not a number") from None
        if not math.isfinite(s) or s <= 0:
            raise BadInputError(f"--device-mix share for {name!r} must be > 0, got {share!r}")
        prof = resolve(name.strip())
        if any(p.name == prof.name for p in profiles):
            raise BadInputError(f"--device-mix names {prof.name!r} twice")
        profiles.append(prof)
        shares.append(s)
    total = sum(shares)
    return DeviceMix(text, tuple(profiles), tuple(s / total for s in shares))
