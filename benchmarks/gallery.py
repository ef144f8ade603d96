"""Regenerate the figure gallery in docs/ from real runs: dense, 90 % and 95 % SWAT sparsity on the
default task (digits, cnn), costed on two devices over LTE.

    .venv/bin/python benchmarks/gallery.py [--rounds 20] [--runs DIR] [--retrain] [--dpi 120]

Trains the three runs with `zerofl-profile train` (into --runs, default runs/gallery, which git
ignores; finished runs there are reused unless --retrain), then
draws every figure through the library (``compare_runs`` -> ``build_figures``) and writes
docs/gallery/*.png, docs/gallery/report.md (the Markdown report of the same comparison), the two
README figures in docs/figures/, and docs/gallery.md listing them. Prints what it ran and how long.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zerofl_profiler.analysis.comparison import compare_runs  # noqa: E402
from zerofl_profiler.cli.options import CostingSelection  # noqa: E402
from zerofl_profiler.plots import FIGURES, build_figures  # noqa: E402
from zerofl_profiler.plots.style import STYLES, save_figure  # noqa: E402
from zerofl_profiler.report import render  # noqa: E402
from zerofl_profiler.traces.atomic import atomic_write  # noqa: E402

DEVICES = ("snapdragon-865-cpu", "jetson-nano")
NETWORK = "lte"
TARGET = 0.9
RUNS = (("dense", ["--sparsity", "0"]),
        ("s90", ["--sparsity", "0.9", "--upload", "topk-weights", "--mask-ratio", "0.2"]),
        ("s95", ["--sparsity", "0.95", "--upload", "topk-weights", "--mask-ratio", "0.2"]))


def train(runs_dir: Path, rounds: int, retrain: bool) -> list[Path]:
    """Train the three runs (reusing any already finished in runs_dir unless ``retrain``)."""
    out = []
    for name, extra in RUNS:
        run = runs_dir / name
        if retrain and run.exists():
            shutil.rmtree(run)
        if not (run / "rounds.jsonl").exists():
            cmd = [sys.executable, "-m", "zerofl_profiler", "train", *extra, "--rounds", str(rounds),
                   "--name", name, "--out", str(run), "--quiet"]
            print("$", " ".join(cmd[2:]), file=sys.stderr)
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                sys.stderr.write(done.stderr)
                raise SystemExit(done.returncode)
        out.append(run)
    return out


def write_gallery(runs: list[Path], docs: Path, dpi: int) -> tuple[list[tuple[str, str, Path]], str]:
    """Every figure of the comparison, in paper-double, plus the sweep at paper-single."""
    sel = CostingSelection(devices=DEVICES, network=NETWORK)
    comp = compare_runs(runs, sel, target_accuracy=TARGET)
    gallery = docs / "gallery"
    written: list[tuple[str, str, Path]] = []
    for style_name, names in (("paper-double", list(FIGURES)), ("paper-single", ["sweep", "accuracy"])):
        style = dataclasses.replace(STYLES[style_name], dpi=dpi)
        drawn = build_figures(comp, style, names)
        for name, why in drawn.skipped:
            print(f"skipped {name}: {why}", file=sys.stderr)
        for name, why in drawn.notes:
            print(f"left out of {name}: {why}", file=sys.stderr)
        for stem, fig in drawn.figures:
            fname = f"{stem}-{style_name}"
            (path,) = save_figure(fig, gallery, fname, ["png"], style)
            written.append((stem.split("-")[0], style_name, path))
    atomic_write(gallery / "report.md", render(comp, "md"))
    figures = docs / "figures"
    for stem, target in (("accuracy", "accuracy-vs-round-and-energy.png"), ("sweep", "sparsity-sweep.png")):
        src = gallery / f"{stem}-paper-double.png"
        atomic_write(figures / target, src.read_bytes())
    sources = sorted({s.energy.source for s in comp.summaries if s.energy.total_j is not None})
    if len(sources) and all(s.energy.total_j is not None for s in comp.summaries):
        energy = f"Client energy was measured ({'+'.join(sources)}) on the host that made them."
    else:
        energy = ("The host that made them did not measure the energy of every client-round (no energy "
                  "counter was available), so the energy axes use the device estimates and say so.")
    return written, energy


def gallery_md(written: list[tuple[str, str, Path]], docs: Path, rounds: int, energy: str) -> str:
    """docs/gallery.md: what each figure is, from which command."""
    lines = ["# Figure gallery", "",
             "Every figure `zerofl-profile plot` draws, made by `benchmarks/gallery.py` from three real runs "
             f"of `zerofl-profile train` on the default task (digits, `cnn`, {rounds} rounds): dense with a "
             "dense upload, and 90 % / 95 % SWAT sparsity with `topk-weights` uploads at mask ratio 0.2. "
             f"Devices estimated: {', '.join(DEVICES)}, over `{NETWORK}`; target accuracy {TARGET:g}. "
             f"{energy} The same comparison as a "
             "Markdown report, with every assumption, is [gallery/report.md](gallery/report.md).", "",
             "Regenerate with `.venv/bin/python benchmarks/gallery.py` (a few minutes on 2 CPU cores).", ""]
    for name, style, path in written:
        spec = FIGURES[name]
        rel = path.relative_to(docs).as_posix()
        lines += [f"## `{path.stem}` ({style})", "", spec.title + ".", "", f"![{spec.title}]({rel})", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--runs", type=Path, default=Path("runs/gallery"),
                    help="Folder for the runs, relative to the repository (default runs/gallery).")
    ap.add_argument("--retrain", action="store_true", help="Train again even where finished runs exist.")
    ap.add_argument("--dpi", type=int, default=120)
    args = ap.parse_args()
    os.chdir(ROOT)  # run paths in the report read runs/gallery/..., not a machine's absolute path
    docs = Path("docs")
    t0 = time.perf_counter()
    runs = train(args.runs, args.rounds, args.retrain)
    t1 = time.perf_counter()
    written, energy = write_gallery(runs, docs, args.dpi)
    atomic_write(docs / "gallery.md", gallery_md(written, docs, args.rounds, energy))
    t2 = time.perf_counter()
    for _, _, p in written:
        print(f"{p}\t{p.stat().st_size / 1024:.0f} KiB")
    print(f"train {t1 - t0:.1f} s, figures + report {t2 - t1:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
