"""How long `report` and `plot` take: load+summarise, Markdown, HTML (with figures), all figures as PNG.

Usage: python benchmarks/bench_report.py [RUN_DIR ...] [--repeats 5]
Without run dirs it writes the tests' dense/90%/95% fixture runs (tests/report/runfactory.py) to a
temp folder. Variants are timed in alternating rounds; medians are printed (timings swing 30-50%).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

from zerofl_profiler.analysis.summary import summarize_run
from zerofl_profiler.analysis.comparison import compare_runs
from zerofl_profiler.plots import render_figures
from zerofl_profiler.report import render
from zerofl_profiler.traces import load_run


def fixture_runs(root: Path) -> list[Path]:
    spec = importlib.util.spec_from_file_location(
        "runfactory", Path(__file__).resolve().parents[1] / "tests" / "report" / "runfactory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod.write_sweep(root)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="*")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    runs = [Path(r) for r in args.runs] or fixture_runs(tmp / "runs")
    records = sum(len(load_run(r).clients) for r in runs)
    variants = {
        "load + summarise": lambda: [summarize_run(load_run(r), target_accuracy=0.5) for r in runs],
        "report md": lambda: render(compare_runs(runs, target_accuracy=0.5), "md"),
        "report html (figures)": lambda: render(compare_runs(runs, target_accuracy=0.5), "html"),
        "plot all (png)": lambda: render_figures(
            compare_runs(runs, target_accuracy=0.5), tmp / "figs", ("png",)),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    print(f"{len(runs)} runs, {records} client-round records, {args.repeats} alternating rounds")
    for name, ts in times.items():
        print(f"{name:24s} median {statistics.median(ts):.3f} s  (min {min(ts):.3f}, max {max(ts):.3f})")


if __name__ == "__main__":
    main()
