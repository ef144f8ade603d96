"""Meter overhead: time per window (target < 1 ms) and sampler CPU (target < 1% of one core).

Runs on any Linux host: RAPL is read from a fake powercap tree of the usual two-socket shape
(9 zones, real file reads), so the figures are the meter's own cost, not the hardware's.
Variants are timed in alternating rounds; medians and ratios are printed.

    .venv/bin/python benchmarks/bench_meter.py [--rounds 7] [--windows 2000] [--sampler-s 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from zerofl_profiler.power import NullMeter
from zerofl_profiler.power.estimate import EstimateBackend
from zerofl_profiler.power.meter import EnergyMeter
from zerofl_profiler.power.rapl import RaplBackend


def fake_tree(base: Path) -> Path:
    """Two packages with core/uncore/dram and a psys zone, symlinked like /sys/class/powercap."""
    root = base / "class"
    root.mkdir()
    dev = base / "devices"
    for s in (0, 1):
        top = dev / f"intel-rapl:{s}"
        zones = [(top, f"package-{s}")] + [(top / f"intel-rapl:{s}:{i}", n)
                                           for i, n in enumerate(("core", "uncore", "dram"))]
        for d, name in zones:
            d.mkdir(parents=True)
            (d / "name").write_text(name)
            (d / "energy_uj").write_text("123456789")
            (d / "max_energy_range_uj").write_text("262143328850")
            os.symlink(d, root / d.name)
    psys = dev / "intel-rapl:2"
    psys.mkdir()
    for f, v in (("name", "psys"), ("energy_uj", "1"), ("max_energy_range_uj", "262143328850")):
        (psys / f).write_text(v)
    os.symlink(psys, root / "intel-rapl:2")
    return root


def per_window_us(meter, n: int) -> float:
    """Mean microseconds per empty window."""
    t0 = time.perf_counter()
    for i in range(n):
        with meter.window("w"):
            pass
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--windows", type=int, default=2000)
    ap.add_argument("--sampler-s", type=float, default=3.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = fake_tree(Path(tmp))
        meters = {
            "null": NullMeter(),
            "estimate": EnergyMeter([EstimateBackend()]),
            "rapl(9 zones)": EnergyMeter([RaplBackend(root)], interval_s=1.0),
            "rapl+estimate": EnergyMeter([RaplBackend(root), EstimateBackend()], interval_s=1.0),
        }
        times: dict[str, list[float]] = {k: [] for k in meters}
        for _ in range(a.rounds):  # alternate variants within each round
            for k, m in meters.items():
                times[k].append(per_window_us(m, a.windows))
        base = statistics.median(times["null"])
        print(f"per-window overhead, median of {a.rounds} rounds x {a.windows} empty windows:")
        for k, v in times.items():
            med = statistics.median(v)
            print(f"  {k:15s} {med:8.1f} us/window   ({med / base:5.1f}x null; min {min(v):.1f}, max {max(v):.1f})")
        for m in meters.values():
            m.close()

        print(f"sampler thread CPU over {a.sampler_s:g} s wall (rapl, 9 zones):")
        for interval in (0.1, 0.01):
            m = EnergyMeter([RaplBackend(root)], interval_s=interval)
            t0 = time.perf_counter()
            time.sleep(a.sampler_s)
            wall = time.perf_counter() - t0
            m.close()
            print(f"  interval {interval:5.3f} s: {m.sampler.polls:4d} polls, thread CPU {m.sampler.cpu_s * 1e3:7.2f} ms "
                  f"= {100 * m.sampler.cpu_s / wall:.3f}% of one core")


if __name__ == "__main__":
    main()
