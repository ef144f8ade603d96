"""A trace record survives the trip through Flower metrics + skeleton unchanged (no flwr needed)."""

from __future__ import annotations

import json

import pytest

from zerofl_profiler.fl.flower.records import join_record, split_record, sum_metrics
from zerofl_profiler.traces.schema import FLOP_BLOCK_KEYS, ClientRoundRecord, EnergyBlock


def _record(**kw) -> ClientRoundRecord:
    base = dict(
        run_id="r1", round=3, client_id=7, samples=133, steps=9, batch_sizes=[16] * 8 + [5],
        densities={"conv1": {"weight": 1.0, "activation": 1.0}, "layer1.0.conv2": {"weight": 0.1, "activation": 0.25}},
        flops={"dense": {k: 10**12 + i for i, k in enumerate(FLOP_BLOCK_KEYS)},
               "sparse": {k: 3 * i for i, k in enumerate(FLOP_BLOCK_KEYS)}},
        bytes_up=12345, bytes_up_dense=99999, bytes_down=99999, wall_time_s=0.125, cpu_time_s=0.25,
        energy=EnergyBlock(source="rapl", method="counter", total_j=1.5, domains_j={"package-0": 1.25, "dram": 0.25},
                           duration_s=0.125, skipped={"nvml": "no GPU"}, attribution="shared", flags=("x",)),
        energy_estimate=EnergyBlock(source="estimate", method="cpu-time-x-power", total_j=2.0),
        train_loss=0.5, lr=0.1, timestamp=1.7e9, peak_mem_bytes=2**20, mem_source="rss", flags=("f",),
        extra={"encode_time_s": 0.001, "note": "hi", "a/b": 1, "empty": []})
    base.update(kw)
    return ClientRoundRecord(**base)


def test_round_trip_is_lossless():
    rec = _record()
    metrics, skeleton = split_record(rec)
    assert join_record(metrics, skeleton) == rec
    assert json.loads(json.dumps(join_record(metrics, skeleton).to_dict())) == rec.to_dict()


def test_numeric_figures_travel_as_metrics_with_their_types():
    metrics, skeleton = split_record(_record())
    assert metrics["flops/dense/forward"] == 10**12 and isinstance(metrics["flops/dense/forward"], int)
    assert metrics["densities/layer1.0.conv2/activation"] == 0.25
    assert metrics["energy/domains_j/package-0"] == 1.25
    assert metrics["batch_sizes"] == [16] * 8 + [5]
    for key in ("bytes_up", "bytes_up_dense", "bytes_down", "wall_time_s", "cpu_time_s", "energy/total_j"):
        assert key in metrics
    sk = json.loads(skeleton)
    assert "bytes_up" not in sk and sk["energy"]["source"] == "rapl" and sk["energy"]["attribution"] == "shared"
    assert sk["extra"]["a/b"] == 1  # a key with the separator stays in the skeleton, whole


def test_failed_record_with_none_values_round_trips():
    rec = _record(status="failed", error="boom", train_loss=None, energy=EnergyBlock.none({"all": "off"}),
                  energy_estimate=None, batch_sizes=[], densities={}, steps=0)
    m, s = split_record(rec)
    assert join_record(m, s) == rec


def test_sum_metrics_sums_totals_not_means():
    a, _ = split_record(_record(bytes_up=10, samples=1))
    b, _ = split_record(_record(bytes_up=32, samples=99))
    out = sum_metrics([a, b], ("bytes_up", "samples", "flops/"))
    assert out["bytes_up"] == 42 and out["samples"] == 100
    assert out["flops/dense/forward"] == 2 * 10**12
    assert "wall_time_s" not in out


def test_join_rejects_a_tampered_record():
    m, s = split_record(_record())
    m["bytes_up"] = -1
    with pytest.raises(Exception, match="bytes_up"):
        join_record(m, s)
