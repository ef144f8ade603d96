"""Independent readers of a run directory (plain json, no zerofl_profiler code) for expected values."""

from __future__ import annotations

import json
from pathlib import Path


def lines(path: Path) -> list[dict]:
    """Every JSON object of a JSONL file."""
    return [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]


def clients(run: Path, ok_only: bool = True) -> list[dict]:
    """Client-round records (successful ones by default)."""
    recs = lines(run / "trace.jsonl")
    return [r for r in recs if r["status"] == "ok"] if ok_only else recs


def rounds(run: Path) -> list[dict]:
    """Round records, in file order."""
    return lines(run / "rounds.jsonl")


def per_round(run: Path, key: str) -> dict[int, float]:
    """Sum of a client-record field per round."""
    out: dict[int, float] = {}
    for r in clients(run):
        out[r["round"]] = out.get(r["round"], 0) + r[key]
    return out


def energy_per_round(run: Path) -> dict[int, float]:
    """Measured client energy summed per round."""
    out: dict[int, float] = {}
    for r in clients(run):
        out[r["round"]] = out.get(r["round"], 0.0) + r["energy"]["total_j"]
    return out


def layers(run: Path) -> list[dict]:
    """layers.json rows."""
    return json.loads((run / "layers.json").read_text())["layers"]
