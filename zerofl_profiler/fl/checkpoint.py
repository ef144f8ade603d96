"""The engine's resume point: the global model after the last finished round, tied to its run.

A checkpoint carries the run id and the digest of the run's stored options (``config_digest``),
so ``--resume`` refuses one copied from another run or written under other options. The bytes
go through ``traces.rundir`` (atomic replace); this module only turns state into bytes and back.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from ..errors import BadInputError, ZeroflError
from ..traces.rundir import CHECKPOINT_FILE, RunDir, StoredRun

#: 2 adds ``config_digest``; version 1 files (run id only) are still read.
CHECKPOINT_VERSION = 2
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Global state after ``round`` finished rounds, for the run ``run_id`` under options ``config_digest``."""

    run_id: str
    round: int
    global_state: Mapping[str, np.ndarray | torch.Tensor]  # host numpy when read back
    config_digest: str | None = None  # None only in version-1 files


def checkpoint_bytes(ckpt: Checkpoint) -> bytes:
    """The checkpoint as the bytes of checkpoint.pt."""
    obj = {"version": CHECKPOINT_VERSION, "run_id": ckpt.run_id, "round": int(ckpt.round),
           "config_digest": ckpt.config_digest,
           "global_state": {k: v.detach().cpu().contiguous() if isinstance(v, torch.Tensor)
                            else torch.from_numpy(np.ascontiguousarray(v)) for k, v in ckpt.global_state.items()}}
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def save_checkpoint(run_dir: RunDir, ckpt: Checkpoint) -> None:
    """Replace the run's checkpoint (atomically, through the run directory's owner)."""
    run_dir.write_checkpoint(checkpoint_bytes(ckpt))


def load_checkpoint(run_dir: RunDir | str | os.PathLike[str]) -> Checkpoint | None:
    """The last checkpoint, or None when the run died before finishing its first round."""
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    data = rd.read_checkpoint()
    if data is None:
        return None
    path = rd.checkpoint_path
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise ZeroflError(f"{path}: unreadable checkpoint ({type(exc).__name__}); cannot resume") from None
    if not isinstance(obj, Mapping) or obj.get("version") not in READABLE_VERSIONS:
        raise ZeroflError(f"{path}: not a zerofl-profiler checkpoint of version {CHECKPOINT_VERSION}")
    state = {k: v.numpy().copy() for k, v in obj["global_state"].items()}
    digest = obj.get("config_digest")
    return Checkpoint(str(obj["run_id"]), int(obj["round"]), state, None if digest is None else str(digest))


def check_identity(ckpt: Checkpoint, stored: StoredRun, path: str | os.PathLike[str]) -> None:
    """Refuse a checkpoint that is not this run's (another run id, or other options): one line, exit 2."""
    if ckpt.run_id != stored.run_id:
        raise BadInputError(f"{path}: checkpoint of run {ckpt.run_id!r}, not of this run {stored.run_id!r} "
                            f"(copied from another run?); refusing to resume")
    if ckpt.config_digest is not None and ckpt.config_digest != stored.digest:
        raise BadInputError(f"{path}: checkpoint written under other options (digest {ckpt.config_digest}, "
                            f"config.toml {stored.digest}); refusing to resume")


def load_own_checkpoint(run_dir: RunDir) -> Checkpoint | None:
    """The run's checkpoint after checking it belongs to the run (see check_identity)."""
    ckpt = load_checkpoint(run_dir)
    if ckpt is not None:
        check_identity(ckpt, run_dir.read_config(), run_dir.checkpoint_path)
    return ckpt


__all__ = ["CHECKPOINT_FILE", "CHECKPOINT_VERSION", "Checkpoint", "check_identity", "checkpoint_bytes",
           "load_checkpoint", "load_own_checkpoint", "save_checkpoint"]
