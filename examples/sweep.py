"""Dense vs 90 % vs 95 % SWAT sparsity x ZeroFL mask ratio 0 / 0.1 / 0.2 on the default data.

    .venv/bin/python examples/sweep.py --out sweep_runs --table sweep.md [--seeds 0,1,2] [--rounds R]
        [--mask-structures unstructured,2:4]

Every cell is run for several seeds with the in-process engine (default data set, model and
schedule of `zerofl-profile train`); the Markdown table reports mean and standard deviation of the
final test accuracy, the measured sparse/dense training FLOP ratio, and the mean upload per
client-round with its ratio to a dense upload. Sparse rows upload `--upload` (default
topk-weights, CSR); the dense row uploads dense (a mask ratio changes nothing there).
``--mask-structures unstructured,2:4`` runs every sparse cell with each SWAT weight mask and adds
a mask column; a 2:4 mask keeps exactly half of the weights, so it runs at sparsity 0.5 only
(``--sparsities 0,0.5``). On the CPU a 2:4 run is the masked dense simulation of the same mask.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def cells(sparsities: list[float], ratios: list[float],
          structures: tuple[str, ...] = ("unstructured",)) -> list[tuple[float, float, str]]:
    """(sparsity, mask ratio, mask structure): one dense row, then every sparse x ratio x structure.

    A 2:4 mask keeps exactly half of the weights: it pairs with sparsity 0.5 only.
    """
    out: list[tuple[float, float, str]] = []
    for s in sparsities:
        if s == 0:
            out.append((s, 0.0, "unstructured"))
            continue
        out.extend((s, r, m) for m in structures if m != "2:4" or s == 0.5 for r in ratios)
    return out


def mean_std(xs: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single seed)."""
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main() -> None:
    from zerofl_profiler.config import RunConfig
    from zerofl_profiler.fl.engine import run
    from zerofl_profiler.traces.atomic import atomic_write
    from zerofl_profiler.units import fmt_bytes, fmt_time

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="sweep_runs", help="folder for the run directories (must not hold them yet)")
    ap.add_argument("--table", default=None, help="Markdown file to write (default OUT/results.md)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sparsities", default="0,0.9,0.95")
    ap.add_argument("--mask-ratios", default="0,0.1,0.2")
    ap.add_argument("--upload", default="topk-weights")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--mask-structures", default="unstructured", help="SWAT weight masks: unstructured, 2:4")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    structures = tuple(args.mask_structures.split(","))
    grid = cells([float(s) for s in args.sparsities.split(",")], [float(r) for r in args.mask_ratios.split(",")],
                 structures)
    if "2:4" in structures and 0.5 not in {s for s, _, _ in grid}:
        ap.error("a 2:4 mask keeps half of the weights: add 0.5 to --sparsities")
    base = RunConfig() if args.rounds is None else RunConfig(rounds=args.rounds)
    out = Path(args.out)
    rows = []
    t_all = time.perf_counter()
    total, done = len(grid) * len(seeds), 0
    for s, r, mask in grid:
        accs, flop_ratio, up, up_ratio = [], [], [], []
        for seed in seeds:
            cfg = base.with_updates(sparsity=s, mask_ratio=r, seed=seed, mask_structure=mask,
                                    upload="dense" if s == 0 else args.upload)
            tag = "" if mask == "unstructured" else "-nm" + mask.replace(":", "")
            summ = run(cfg, out / f"s{s:g}-m{r:g}{tag}-seed{seed}", progress=False)
            n = summ.client_rounds_ok or 1
            accs.append(summ.final_accuracy)
            flop_ratio.append(summ.flops_sparse / summ.flops_dense)
            up.append(summ.bytes_up / n)
            up_ratio.append(summ.bytes_up / summ.bytes_up_dense)
            done += 1
            el = time.perf_counter() - t_all
            print(f"[{done}/{total}] sparsity {s:g} ({mask}) mask ratio {r:g} seed {seed}: "
                  f"accuracy {summ.final_accuracy:.4f}"
                  f"  (elapsed {fmt_time(el)}, eta {fmt_time(el / done * (total - done))})", file=sys.stderr, flush=True)
        rows.append((s, r, mask, mean_std(accs), statistics.fmean(flop_ratio), statistics.fmean(up),
                     statistics.fmean(up_ratio)))
    masks = structures != ("unstructured",)  # a mask column only when the sweep compares masks
    head = "| sparsity | " + ("mask | " if masks else "") + "mask ratio | test accuracy (mean ± std) | " \
           "training FLOPs sparse/dense | upload per client-round | upload / dense |"
    lines = [
        f"Default run ({base.dataset}/{base.model}, N={base.clients}, K={base.clients_per_round}, "
        f"R={base.rounds}, E={base.local_epochs}, B={base.batch_size}), seeds {args.seeds}; "
        f"sparse rows upload {args.upload} ({base.encoding}). Wall time {time.perf_counter() - t_all:.0f} s.",
        "",
        head,
        "|---:|" + (":---|" if masks else "") + "---:|---:|---:|---:|---:|",
    ]
    for s, r, mask, (m, sd), fr, u, ur in rows:
        label = "dense" if s == 0 else f"{s:g}"
        col = (f"{'-' if s == 0 else mask} | " if masks else "")
        lines.append(f"| {label} | {col}{r:g} | {m:.4f} ± {sd:.4f} | {fr:.3f} | {fmt_bytes(u)} | {ur:.3f} |")
    text = "\n".join(lines) + "\n"
    table = Path(args.table) if args.table else out / "results.md"
    table.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(table, text)
    print(text)
    print(f"table written to {table}")


if __name__ == "__main__":
    main()
