"""EnergyMeter: nested and overlapping windows, measured vs estimate, combining, failures, replay."""

from __future__ import annotations

import json

import pytest

from zerofl_profiler.errors import BadInputError, HardwareError
from zerofl_profiler.power import NullMeter, Window
from zerofl_profiler.power.base import Backend, Reading, now_s
from zerofl_profiler.power.estimate import EstimateBackend, HostPower
from zerofl_profiler.power.meter import EnergyMeter
from zerofl_profiler.power.replay import ReplayBackend, load_recording
from zerofl_profiler.traces.schema import ClientRoundRecord, EnergyBlock, empty_flops


class Manual(Backend):
    """A counter the test moves by hand."""

    def __init__(self, name: str = "rapl", domains=("package-0",)) -> None:
        super().__init__()
        self.name = name  # type: ignore[misc]
        self.value = {d: 0.0 for d in domains}
        self.fail_on_read = False

    def add(self, **kw: float) -> None:
        for k, v in kw.items():
            self.value[k.replace("_", "-")] += v

    def read(self) -> Reading:
        if self.fail_on_read:
            raise HardwareError("counter vanished")
        return Reading(now_s(), dict(self.value))


def test_nested_windows_each_get_their_own_span():
    b = Manual()
    m = EnergyMeter([b])
    with m.window("round") as outer:
        b.add(package_0=1.0)
        with m.window("client-1") as c1:
            b.add(package_0=2.0)
        b.add(package_0=0.5)
        with m.window("client-2") as c2:
            b.add(package_0=4.0)
    m.close()
    assert c1.result.total_j == pytest.approx(2.0)
    assert c2.result.total_j == pytest.approx(4.0)
    assert outer.result.total_j == pytest.approx(7.5)
    assert outer.result.duration_s >= c1.result.duration_s + c2.result.duration_s
    assert outer.result.source == "rapl" and outer.estimate is None


def test_overlapping_windows_with_explicit_stop():
    b = Manual()
    m = EnergyMeter([b], attribution="shared")
    a = m.start_window("a")
    b.add(package_0=1.0)
    c = m.start_window("b")
    b.add(package_0=2.0)
    wa = a.stop()                 # a closes while b is still open
    b.add(package_0=4.0)
    wb = c.stop()
    assert wa.result.total_j == pytest.approx(3.0)
    assert wb.result.total_j == pytest.approx(6.0)
    assert wa.result.attribution == "shared"
    assert a.stop() is wa  # stopping twice changes nothing


def test_attribution_set_by_the_caller_inside_the_window():
    m = EnergyMeter([Manual()])
    with m.window("c") as win:
        win.attribution = "shared"
    assert win.result.attribution == "shared"
    with pytest.raises(BadInputError):
        with m.window("bad", attribution="half"):
            pass


def test_two_backends_combine_with_prefixed_domains():
    gpu, cpu = Manual("nvml", ("gpu0",)), Manual("rapl", ("package-0",))
    m = EnergyMeter([gpu, cpu])
    with m.window("w") as win:
        gpu.add(gpu0=10.0)
        cpu.add(package_0=3.0)
    r = win.result
    assert r.source == "nvml"  # precedence: the first backend
    assert r.domains_j == {"nvml:gpu0": pytest.approx(10.0), "rapl:package-0": pytest.approx(3.0)}
    assert r.total_j == pytest.approx(13.0)
    assert "combined:nvml+rapl" in r.flags and r.method == "nvml:counter+rapl:counter"


def test_estimate_is_kept_out_of_the_measured_block():
    cpu_clock = iter([0.0, 1.0, 3.0])  # start, begin, end
    est = EstimateBackend(clock=lambda: next(cpu_clock), power=HostPower(40.0, 4, "test: 40 W over 4 CPUs"))
    meas = Manual()
    m = EnergyMeter([meas, est])
    with m.window("w") as win:
        meas.add(package_0=5.0)
    assert win.result.source == "rapl" and win.result.total_j == pytest.approx(5.0)
    assert win.estimate is not None and win.estimate.source == "estimate"
    assert win.estimate.total_j == pytest.approx(2.0 * 10.0)  # 2 CPU-s x 10 W per CPU
    assert win.estimate.method == "cpu-time-x-power"
    assert any("40 W over 4 CPUs" in f for f in win.estimate.flags)
    rec = ClientRoundRecord(run_id="r", round=0, client_id=1, samples=1, steps=1, batch_sizes=[1], densities={},
                            flops={"dense": empty_flops(), "sparse": empty_flops()}, bytes_up=0, bytes_up_dense=0,
                            bytes_down=0, wall_time_s=0.1, cpu_time_s=0.1, energy=win.result,
                            energy_estimate=win.estimate)
    back = ClientRoundRecord.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert back.energy == win.result and back.energy_estimate == win.estimate


def test_estimate_only_meter_reports_nothing_measured():
    est = EstimateBackend(power=HostPower(10.0, 1, "test"))
    m = EnergyMeter([est], skipped={"rapl": "no tree"})
    with m.window("w") as win:
        sum(i * i for i in range(200_000))
    assert win.result.source == "none" and win.result.total_j is None
    assert win.result.skipped == {"rapl": "no tree"}
    assert win.estimate.total_j > 0


def test_backend_failure_is_recorded_not_raised():
    b = Manual()
    m = EnergyMeter([b])
    with m.window("w") as win:
        b.fail_on_read = True
    assert win.result.source == "none" and win.result.total_j is None
    assert win.result.skipped["rapl"] == "counter vanished"


def test_a_user_exception_inside_a_window_still_closes_it():
    b = Manual()
    m = EnergyMeter([b])
    with pytest.raises(ZeroDivisionError):
        with m.window("w") as win:
            b.add(package_0=1.0)
            1 / 0
    assert win.result.total_j == pytest.approx(1.0)


def test_bad_interval_is_bad_input():
    with pytest.raises(BadInputError):
        EnergyMeter([Manual()], interval_s=0)


def test_null_meter_keeps_the_contract():
    with NullMeter("off") as m:
        with m.window("w", attribution="shared") as win:
            pass
    assert isinstance(win, Window)
    assert win.result.source == "none" and win.result.duration_s >= 0
    assert win.result.attribution == "shared" and win.estimate is None


def test_replay_backend_plays_back_a_recording(tmp_path):
    rec = tmp_path / "rec.jsonl"
    rows = [{"t_s": 0.0, "energy_j": {"package-0": 10.0}}, {"t_s": 2.0, "energy_j": {"package-0": 25.0}}]
    rec.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    b = ReplayBackend(load_recording(rec), source="rapl")
    m = EnergyMeter([b])
    with m.window("w") as win:
        pass
    assert win.result.total_j == pytest.approx(15.0)
    assert win.result.source == "rapl" and "replayed" in win.result.flags
    assert win.result.method == "replay"


def test_replay_rejects_malformed_lines(tmp_path):
    rec = tmp_path / "bad.jsonl"
    rec.write_text('{"t_s": 0, "energy_j": {"a": 1}}\n{"oops": 1}\n')
    with pytest.raises(BadInputError, match="bad.jsonl:2"):
        load_recording(rec)


def test_energy_block_from_meter_is_schema_valid(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from importlib import resources

    schema = json.loads(resources.files("zerofl_profiler.traces").joinpath("trace.schema.json").read_text())
    b = Manual()
    m = EnergyMeter([b, EstimateBackend(power=HostPower(10.0, 1, "test"))])
    with m.window("w") as win:
        b.add(package_0=1.0)
    energy_schema = dict(schema["$defs"]["energy"], **{"$defs": schema["$defs"]})
    for block in (win.result, win.estimate):
        jsonschema.validate(block.to_dict(), energy_schema)
    assert EnergyBlock.from_dict(win.result.to_dict()) == win.result
