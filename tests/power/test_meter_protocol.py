"""Every meter the engines may be handed satisfies the one Meter protocol they are typed with."""

from __future__ import annotations

from zerofl_profiler.power import Meter, NullMeter, make_meter


def test_meters_satisfy_the_protocol() -> None:
    null = NullMeter()
    assert isinstance(null, Meter)
    meter = make_meter("estimate")
    try:
        assert isinstance(meter, Meter)
        with meter.window("w") as win:
            sum(range(1000))
        assert win.estimate is not None and win.estimate.source == "estimate"
    finally:
        meter.close()
    assert not isinstance(object(), Meter)
