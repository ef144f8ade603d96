"""codecarbon, really installed, offline: one tracker, task per window, mode recorded, no files."""

from __future__ import annotations

import socket
from unittest import mock

import pytest

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.power.codecarbon_backend import CodecarbonBackend
from zerofl_profiler.power.meter import EnergyMeter

pytestmark = pytest.mark.slow  # the tracker's hardware set-up takes ~2 s


@pytest.fixture
def offline(monkeypatch):
    """Any network access fails the test."""
    def no_net(*a, **k):
        raise AssertionError("codecarbon tried to use the network")

    monkeypatch.setattr(socket, "create_connection", no_net)
    monkeypatch.setattr(socket.socket, "connect", no_net)


def test_one_tracker_task_per_window_offline_and_no_files(tmp_path, monkeypatch, offline):
    monkeypatch.chdir(tmp_path)
    b = CodecarbonBackend("fra")
    with EnergyMeter([b]) as meter:
        tracker = b.tracker
        with mock.patch.object(tracker, "start_task", wraps=tracker.start_task) as st, \
                mock.patch.object(tracker, "stop_task", wraps=tracker.stop_task) as sp:
            with meter.window("client-1") as w1:
                sum(i * i for i in range(300_000))
                with meter.window("inner") as inner:
                    sum(i * i for i in range(100_000))
            with meter.window("client-2") as w2:
                sum(i * i for i in range(300_000))
        assert b.tracker is tracker  # one tracker for the run
        assert st.call_count == 2 and sp.call_count == 2  # the nested window is not a task
    assert list(tmp_path.iterdir()) == []
    assert b.country == "FRA" and b.cpu_mode != "unknown"
    for w in (w1, w2, inner):
        blocks = [blk for blk in (w.result, w.estimate) if blk is not None and blk.source != "none"]
        assert blocks, "codecarbon produced nothing"
        assert all(blk.method.startswith("codecarbon:") for blk in blocks)
        assert all("country:FRA" in blk.flags for blk in blocks)
    assert any("running-totals" in f for f in (inner.estimate or inner.result).flags)
    if b.measured:  # RAPL readable on this host: CPU (+GPU) measured, RAM model apart
        assert w1.result.source == "codecarbon" and w1.estimate.method == "codecarbon:ram-model"
    else:           # TDP/load model: everything is an estimate, and the result says why not
        assert w1.result.source == "none" and w1.result.total_j is None
        assert "is a model, not a measurement" in w1.result.skipped["codecarbon"]
        est = w1.estimate
        assert est.source == "estimate" and est.method == f"codecarbon:{b.cpu_mode}"
        assert est.total_j == pytest.approx(sum(est.domains_j.values()))
        assert est.total_j > 0 and est.emissions_g > 0
        g_per_kwh = est.emissions_g / (est.total_j / 3.6e6)
        assert 1 < g_per_kwh < 1500  # a grid carbon intensity, in gCO2eq/kWh


def test_bad_country_code_is_bad_input():
    with pytest.raises(BadInputError, match="ISO 3166-1 alpha-3"):
        CodecarbonBackend("France")
