"""Reproduce ZeroFL's CIFAR-10 Table 1 (90 % / 95 % sparsity x full upload / Top-K-Weights at mask
ratio 0, 0.1, 0.2) and print our numbers beside the paper's.

    .venv/bin/python examples/zerofl_table1.py --data-dir PATH --out table1_runs \
        [--cells s90-full,s90-topk-m0.1] [--rounds 50] [--set KEY=VALUE ...]

The grid and the paper's accuracies come from ``examples/zerofl_table1.csv`` (one row per cell,
with its source); every cell starts from ``examples/zerofl_cifar10.toml`` (the paper's setup) with
the cell's sparsity, upload and mask ratio. ``--rounds`` shortens every cell (a shortened run is
not comparable with the paper's 700 rounds, and the table says how many rounds ran); ``--set``
overrides any other config key (VALUE read as TOML, a bare word as a string: ``--set clients=20
--set model=vgg``).
Each cell writes its own run directory under ``--out``; the table goes to ``OUT/table1.md`` and
``OUT/table1.csv`` (final test accuracy of the sparse model, sparse training FLOPs per client-round
and their ratio to dense, mean upload per client-round in MB = 10^6 bytes and its ratio to a dense
upload). Bad input: one line on stderr, exit 2, before any run starts.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

HERE = Path(__file__).resolve().parent
PAPER_CSV = HERE / "zerofl_table1.csv"
BASE_CONFIG = HERE / "zerofl_cifar10.toml"


@dataclass(frozen=True)
class Cell:
    """One row of the paper's table: what to run and what the paper reports for it."""

    cell: str
    sparsity: float
    upload: str
    mask_ratio: float
    paper_accuracy_pct: float
    source: str

    @property
    def label(self) -> str:
        """How the paper names the row."""
        what = "full upload" if self.upload == "dense" else f"Top-K-Weights, mask ratio {self.mask_ratio:g}"
        return f"{self.sparsity * 100:g}% sparsity, {what}"


@dataclass(frozen=True)
class Row:
    """Our measured result for one cell."""

    cell: Cell
    rounds: int
    accuracy_pct: float | None
    flops_sparse_per_client_round: float
    flop_ratio: float | None
    upload_mb_per_client_round: float
    upload_ratio: float | None
    run_dir: str


def read_cells(path: Path = PAPER_CSV) -> list[Cell]:
    """The paper's grid with its numbers (a malformed row names its line)."""
    cells = []
    with open(path, newline="", encoding="utf-8") as fh:
        for line, rec in enumerate(csv.DictReader(fh), start=2):
            try:
                cells.append(Cell(rec["cell"], float(rec["sparsity"]), rec["upload"], float(rec["mask_ratio"]),
                                  float(rec["paper_accuracy_pct"]), rec["source"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise SystemExit(f"error: {path}:{line}: malformed row ({exc})") from None
    return cells


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs, VALUE read as TOML (so numbers, booleans and quoted strings keep their type)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value  # a bare word is a string
    return out


def select(cells: list[Cell], wanted: str | None) -> list[Cell]:
    """The cells named by --cells (all when None), in the table's order."""
    if not wanted:
        return cells
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    known = {c.cell for c in cells}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown cell(s) {', '.join(unknown)}; known: {', '.join(c.cell for c in cells)}")
    return [c for c in cells if c.cell in names]


def configs(cells: list[Cell], data_dir: str, rounds: int | None, sets: dict[str, Any]) -> list[Any]:
    """One validated RunConfig per cell (all validation happens before any run starts)."""
    from zerofl_profiler.config import read_toml, from_mapping

    base = {**read_toml(BASE_CONFIG), "data_dir": data_dir, **sets}
    if rounds is not None:
        base["rounds"] = rounds
    return [from_mapping({**base, "sparsity": c.sparsity, "upload": c.upload, "mask_ratio": c.mask_ratio,
                          "name": f"table1 {c.cell}"}) for c in cells]


def run_cell(cell: Cell, cfg: Any, out: Path) -> Row:
    """Train one cell (or resume it where a previous invocation stopped) and reduce it to a row."""
    if cfg.engine == "flower":
        from zerofl_profiler.fl.flower import run_flower as run
    else:
        from zerofl_profiler.fl.engine import run

    run_dir = out / cell.cell
    summ = run(cfg, run_dir, resume=(run_dir / "config.toml").is_file(), progress=False)
    n = max(1, summ.client_rounds_ok)
    return Row(cell, summ.rounds_completed,
               None if summ.final_accuracy is None else summ.final_accuracy * 100,
               summ.flops_sparse / n, summ.flops_sparse / summ.flops_dense if summ.flops_dense else None,
               summ.bytes_up / n / 1e6, summ.bytes_up / summ.bytes_up_dense if summ.bytes_up_dense else None,
               str(run_dir))


def _f(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


HEADER = ("cell", "setting", "rounds", "accuracy % (ours)", "accuracy % (paper)", "GFLOP / client-round",
          "FLOPs vs dense", "upload MB / client-round", "upload vs dense")


def markdown(rows: list[Row]) -> str:
    """The table as Markdown, with the paper's source under it."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        lines.append("| " + " | ".join((
            r.cell.cell, r.cell.label, str(r.rounds), _f(r.accuracy_pct, ".2f"), f"{r.cell.paper_accuracy_pct:.2f}",
            f"{r.flops_sparse_per_client_round / 1e9:.2f}", _f(r.flop_ratio, ".3f"),
            f"{r.upload_mb_per_client_round:.3f}", _f(r.upload_ratio, ".3f"))) + " |")
    sources = sorted({r.cell.source.split(", CIFAR-10")[0] for r in rows})
    lines += ["", f"Paper accuracies: {'; '.join(sources)} (CIFAR-10, LDA alpha 1.0, 700 rounds). "
              "Ours: final test accuracy of the sparse (top-k) model after the rounds shown; FLOPs are "
              "the measured sparse training FLOPs (forward + backward + optimizer) per client-round."]
    return "\n".join(lines) + "\n"


def as_csv(rows: list[Row]) -> str:
    """The same table, machine-readable."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["cell", "sparsity", "upload", "mask_ratio", "rounds", "accuracy_pct", "paper_accuracy_pct",
                "flops_sparse_per_client_round", "flop_ratio_vs_dense", "upload_bytes_per_client_round",
                "upload_ratio_vs_dense", "run_dir", "paper_source"])
    for r in rows:
        w.writerow([r.cell.cell, r.cell.sparsity, r.cell.upload, r.cell.mask_ratio, r.rounds,
                    "" if r.accuracy_pct is None else f"{r.accuracy_pct:.4f}", r.cell.paper_accuracy_pct,
                    f"{r.flops_sparse_per_client_round:.0f}", "" if r.flop_ratio is None else f"{r.flop_ratio:.6f}",
                    f"{r.upload_mb_per_client_round * 1e6:.0f}",
                    "" if r.upload_ratio is None else f"{r.upload_ratio:.6f}", r.run_dir, r.cell.source])
    return buf.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, validate every cell, run them in turn, write the table; returns the exit code."""
    from zerofl_profiler.errors import ZeroflError
    from zerofl_profiler.traces.atomic import atomic_write

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="CIFAR-10 python-pickle batches (never downloaded)")
    ap.add_argument("--out", required=True, help="folder for one run directory per cell and the table")
    ap.add_argument("--cells", default=None, help="comma-separated subset of the cells (default: all 8)")
    ap.add_argument("--rounds", type=int, default=None, help="shorten every cell to R rounds")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key of examples/zerofl_cifar10.toml (repeatable)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    try:
        cells = select(read_cells(), args.cells)
        cfgs = configs(cells, args.data_dir, args.rounds, parse_sets(args.sets))
    except ValueError as exc:  # BadInputError/ConfigError included
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        rows = []
        for cell, cfg in zip(cells, cfgs):
            print(f"cell {cell.cell}: {cell.label}, {cfg.rounds} rounds", file=sys.stderr)
            rows.append(run_cell(cell, cfg, out))
        table = markdown(rows)
        atomic_write(out / "table1.md", table)
        atomic_write(out / "table1.csv", as_csv(rows))
    except ZeroflError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
