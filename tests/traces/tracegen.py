"""Writes version-2 run directories of varied, valid records for the loader and export tests."""

from __future__ import annotations

import random
from pathlib import Path

import tomli_w

from zerofl_profiler.traces import ClientRoundRecord, EnergyBlock, JsonlWriter, RoundRecord, TraceInfo
from zerofl_profiler.traces.schema import FLOP_BLOCK_KEYS

SKIPPED = {"nvml": "no GPU", "codecarbon": "not used by auto; select it by name"}
LAYERS = ("0", "3", "7", "9")  # the shipped cnn's GEMM layers, as in fixtures/v1_sparse/layers.json
FIXTURES = Path(__file__).parent / "fixtures"
INFO = TraceInfo(engine="inprocess", upload="topk-weights", encoding="csr", model="cnn", energy_skipped=SKIPPED)


def record(rng: random.Random, rnd: int, cid: int) -> ClientRoundRecord:
    """A random valid record: some failed (no densities), some with measured energy, memory, flags, extras."""
    failed = rng.random() < 0.1
    steps = 0 if failed else rng.randint(1, 9)
    dense = {k: rng.randint(0, 10**12) for k in FLOP_BLOCK_KEYS}
    sparse = {k: v // rng.randint(1, 20) for k, v in dense.items()}
    measured = rng.random() < 0.5
    peak = rng.randint(10**6, 10**9) if rng.random() < 0.7 else None
    return ClientRoundRecord(
        run_id="gen", round=rnd, client_id=cid, samples=rng.randint(1, 500), steps=steps, batch_sizes=[32] * steps,
        densities={} if failed else {n: {"weight": rng.random(), "activation": rng.random()} for n in LAYERS},
        flops={"dense": dense, "sparse": sparse}, bytes_up=0 if failed else rng.randint(0, 10**7),
        bytes_up_dense=10**7, bytes_down=10**7, wall_time_s=rng.random() * 3, cpu_time_s=rng.random() * 3,
        accelerator_time_s=rng.random() if rng.random() < 0.3 else None,
        peak_mem_bytes=peak, mem_source="none" if peak is None else "rss",
        energy=(EnergyBlock(source="rapl", method="counter", total_j=rng.random() * 10, domains_j={"package-0": 1.0},
                            duration_s=rng.random(), skipped=dict(SKIPPED),
                            attribution=rng.choice(["exclusive", "shared"]))
                if measured else EnergyBlock.none(SKIPPED if rng.random() < 0.9 else {"nvml": "driver vanished"})),
        energy_estimate=(EnergyBlock(source="estimate", method="cpu-time-x-power", total_j=rng.random(),
                                     flags=("power: 10 W per CPU (assumption)",)) if rng.random() < 0.6 else None),
        status="failed" if failed else "ok", error="NaN loss" if failed else None,
        device=rng.choice([None, "jetson-nano"]), train_loss=None if failed else rng.random(), lr=0.1,
        timestamp=1.7e9 + rnd, flags=tuple(rng.sample(["a", "b", "c"], rng.randint(0, 2))),
        extra={"encode_time_s": rng.random()} if not failed else {})


def write_run(run: Path, n: int, per_round: int = 10, seed: int = 0, layers_json: bool = True) -> list[ClientRoundRecord]:
    """RUN_DIR with n client-round records (per_round per round) and the round records; returns the records."""
    rng = random.Random(seed)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.toml").write_text(tomli_w.dumps({"run_id": "gen", "name": "gen", "trace": INFO.to_toml_dict()}))
    recs = [record(rng, i // per_round + 1, i % per_round) for i in range(n)]
    with JsonlWriter(run / "trace.jsonl", fsync=False, energy_skipped=SKIPPED) as w:
        for r in recs:
            w.write(r)
    with JsonlWriter(run / "rounds.jsonl", fsync=False, energy_skipped=SKIPPED) as w:
        for rnd in sorted({r.round for r in recs}):
            mine = [r for r in recs if r.round == rnd]
            w.write(RoundRecord(run_id="gen", round=rnd, sampled_clients=[r.client_id for r in mine],
                                completed_clients=[r.client_id for r in mine if r.status == "ok"],
                                failed_clients=[r.client_id for r in mine if r.status != "ok"],
                                aggregation_time_s=0.01, round_wall_time_s=1.0, test_accuracy=rng.random(),
                                test_loss=rng.random(), lr=0.1, energy=EnergyBlock.none(SKIPPED)))
    if layers_json:
        (run / "layers.json").write_text((FIXTURES / "v1_sparse" / "layers.json").read_text())
    return recs
