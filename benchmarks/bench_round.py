"""Seconds per client-round of ZeroFL's CIFAR-10 setup on this CPU: dense vs 90 % SWAT ResNet-18,
and what the paper's 700-round runs would take here (an extrapolation, labelled as one).

    .venv/bin/python benchmarks/bench_round.py [--samples 500] [--repeats 2] [--threads 1] [--clock wall|cpu]

One client-round is ``fl.client.train_client`` exactly as the engine calls it (local SGD with the
crop+flip augmentation, FLOP counting, upload encoding) on one client holding ``--samples``
CIFAR-shaped images (3x32x32; the paper's 50 000 training images over 100 clients is 500 each,
1 local epoch at batch 16 = 32 steps). The images are random (shape is all that matters for time);
dense (sparsity 0) and 90 % sparse alternate, ``--repeats`` times each, and medians are printed.
Server evaluation is timed on ``--eval-images`` test images and scaled to CIFAR-10's 10 000.
On a shared machine ``--clock cpu`` times with the process CPU time (one torch thread), close to
what the wall time would be without contention. The extrapolation multiplies by 10 clients per
round and 700 rounds (the in-process engine trains the sampled clients one after another), plus
one evaluation every ``--eval-every`` rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

#: The paper's CIFAR-10 schedule (examples/zerofl_cifar10.toml).
PAPER_ROUNDS = 700
PAPER_CLIENTS_PER_ROUND = 10
CIFAR_TEST_IMAGES = 10_000
TABLE_CELLS = 8  # examples/zerofl_table1.csv


def extrapolate(client_round_s: float, eval_s: float, eval_every: int, rounds: int = PAPER_ROUNDS,
                clients_per_round: int = PAPER_CLIENTS_PER_ROUND) -> dict[str, float]:
    """Seconds of one round and one full run (clients trained in turn, plus the evaluations)."""
    evals = -(-rounds // eval_every) if eval_every > 0 else 0
    train_s = client_round_s * clients_per_round
    return {"round_train_s": train_s, "run_s": train_s * rounds + eval_s * evals, "evaluations": float(evals)}


def fmt_duration(s: float) -> str:
    """Seconds as s / min / h / days, for a table a reader scans."""
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def print_table(title: str, per_variant: dict[str, tuple[float, float]], eval_every: int, note: str) -> None:
    """Measured medians, then the labelled extrapolation to the paper's runs."""
    print(title)
    print(f"{'variant':<10} {'client-round (measured)':>24} {'eval 10k (scaled)':>18} "
          f"{'round (10 clients)':>19} {'700 rounds':>12} {'Table 1 grid':>13}")
    for name, (cr, ev) in per_variant.items():
        x = extrapolate(cr, ev, eval_every)
        print(f"{name:<10} {cr:>22.2f} s {ev:>16.1f} s {fmt_duration(x['round_train_s']):>19} "
              f"{fmt_duration(x['run_s']):>12} {fmt_duration(x['run_s'] * TABLE_CELLS):>13}")
    print(note)


class Timings:
    """Per-variant client-round and evaluation seconds; repeat 0 is a warm-up, printed but not kept."""

    def __init__(self) -> None:
        self.client_s: dict[str, list[float]] = {}
        self.eval_s: dict[str, list[float]] = {}
        self.load_start = os.getloadavg()[0]  # a shared machine's contention, printed beside the figures

    def add(self, rep: int, name: str, client_s: float, eval_s: float, detail: str = "") -> None:
        """Record (after the warm-up) and print one variant's repeat."""
        if rep > 0:
            self.client_s.setdefault(name, []).append(client_s)
            self.eval_s.setdefault(name, []).append(eval_s)
        print(f"  repeat {rep}{' (warm-up)' if rep == 0 else ''} {name}: client-round {client_s:.3f} s{detail}, "
              f"eval scaled to 10k {eval_s:.2f} s", flush=True)

    def medians(self) -> dict[str, tuple[float, float]]:
        """variant -> (median client-round s, median 10k evaluation s)."""
        return {n: (statistics.median(v), statistics.median(self.eval_s[n])) for n, v in self.client_s.items()}

    def report(self, title: str, eval_every: int, scope: str) -> dict[str, tuple[float, float]]:
        """Print the measured medians and the labelled extrapolation; returns the medians."""
        med = self.medians()
        print()
        print_table(f"{title}; 1-min load average {self.load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end "
                    f"({os.cpu_count()} CPUs)", med, eval_every,
                    f"EXTRAPOLATION (not measured): x {PAPER_CLIENTS_PER_ROUND} clients/round one after another x "
                    f"{PAPER_ROUNDS} rounds + one 10k-image evaluation every {eval_every} rounds; {scope}. "
                    f"sparse/dense client-round ratio: {med['sparse90'][0] / med['dense'][0]:.2f}")
        return med


def main() -> None:
    import numpy as np

    from zerofl_profiler.fl.client import train_client
    from zerofl_profiler.config import RunConfig
    from zerofl_profiler.fl.data import ArrayDataset
    from zerofl_profiler.fl.server import evaluate_modes
    from zerofl_profiler.fl.worker import build_dense, state_to_numpy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=500, help="images on the client (paper: 500)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (engine default 1)")
    ap.add_argument("--eval-images", type=int, default=500)
    ap.add_argument("--eval-every", type=int, default=10, help="evaluation period used in the extrapolation")
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or process CPU time (single-threaded: what wall time would be on an idle "
                         "machine, the better figure on a shared one)")
    args = ap.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time

    rng = np.random.default_rng(0)
    client = ArrayDataset(rng.standard_normal((args.samples, 3, 32, 32)).astype(np.float32),
                          rng.integers(0, 10, args.samples).astype(np.int64), 10, "cifar-shaped")
    test = ArrayDataset(rng.standard_normal((args.eval_images, 3, 32, 32)).astype(np.float32),
                        rng.integers(0, 10, args.eval_images).astype(np.int64), 10, "cifar-shaped")
    # train_client takes the client's data as given and never loads data_dir: any existing folder lets the
    # config be cifar10's, so the crop+flip augmentation runs as in a real run
    variants = {"dense": 0.0, "sparse90": 0.9}
    cfgs = {name: RunConfig(dataset="cifar10", data_dir=tempfile.gettempdir(), model=args.model, batch_size=16,
                            local_epochs=1, sparsity=s, upload="dense" if s == 0 else "topk-weights",
                            threads=args.threads, energy="none", eval_batch_size=500)
            for name, s in variants.items()}
    states = {n: state_to_numpy(build_dense(c, (3, 32, 32), 10)) for n, c in cfgs.items()}
    timings = Timings()
    from zerofl_profiler.fl.runtime import apply_threads

    old = apply_threads(cfgs["dense"])
    try:
        for rep in range(args.repeats + 1):  # repeat 0 warms up (model build, shape traces)
            for name, cfg in cfgs.items():
                t0 = clock()
                res = train_client(states[name], client, cfg, rep + 1, 0)
                dt = clock() - t0
                t1 = clock()
                evaluate_modes(states[name], test, cfg)
                timings.add(rep, name, dt, (clock() - t1) * CIFAR_TEST_IMAGES / args.eval_images,
                            f" ({res.record.steps} steps)")
    finally:
        import torch

        torch.set_num_threads(old)
    timings.report(f"{args.model}, {args.samples} images/client, batch 16, 1 epoch, {args.threads} torch thread(s), "
                   f"CPU, engine path, {args.clock} clock; medians of {args.repeats}", args.eval_every,
                   f"grid = {TABLE_CELLS} cells")


if __name__ == "__main__":
    main()
