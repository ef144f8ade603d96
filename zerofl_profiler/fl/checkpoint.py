"""The engine's resume point: the global model after the last finished round, written atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from ..errors import ZeroflError
from ..traces.atomic import atomic_open

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Global state after ``round`` finished rounds, for the run ``run_id``."""

    run_id: str
    round: int
    global_state: dict[str, np.ndarray]


def save_checkpoint(run_dir: Path, ckpt: Checkpoint) -> None:
    """Write to a temporary file, fsync, then rename: a kill leaves the old or the new one, never half."""
    path = Path(run_dir) / CHECKPOINT_FILE
    obj = {"version": CHECKPOINT_VERSION, "run_id": ckpt.run_id, "round": int(ckpt.round),
           "global_state": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in ckpt.global_state.items()}}
    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)


def load_checkpoint(run_dir: Path) -> Checkpoint | None:
    """The last checkpoint, or None when the run died before finishing its first round."""
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise ZeroflError(f"{path}: unreadable checkpoint ({type(exc).__name__}); cannot resume") from None
    if not isinstance(obj, Mapping) or obj.get("version") != CHECKPOINT_VERSION:
        raise ZeroflError(f"{path}: not a zerofl-profiler checkpoint of version {CHECKPOINT_VERSION}")
    state = {k: v.numpy().copy() for k, v in obj["global_state"].items()}
    return Checkpoint(str(obj["run_id"]), int(obj["round"]), state)
