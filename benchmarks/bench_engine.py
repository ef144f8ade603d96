"""Engine overhead vs a bare loop over the same sparsified model and the same batches; rounds/s.

    .venv/bin/python benchmarks/bench_engine.py [--repeats 3] [--rounds 5]

Part 1 times the in-process engine (sampling, client records, FLOP counting, upload encoding,
aggregation, server evaluation, checkpoint and trace writes) against a bare loop that runs exactly
the same local SGD steps -- the same SWAT model object, the same clients, the same shuffled
batches -- and nothing else. Variants alternate round by round; medians and the ratio are printed.
Part 2 reports rounds per second for 100 clients, 10 per round, on the default data and model.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def bare_loop(cfg) -> float:
    """The same local training steps as the engine, with no engine around them; wall seconds."""
    from zerofl_profiler.fl.client import client_seed
    from zerofl_profiler.fl.engine import _load_data
    from zerofl_profiler.fl.sampling import sample_clients
    from zerofl_profiler.fl.worker import build_dense, get_worker, load_numpy_state, state_to_numpy
    from zerofl_profiler.sparse import reset_masks

    train, _test, clients, _ = _load_data(cfg)
    worker = get_worker(cfg, train.input_shape, train.num_classes)
    state = state_to_numpy(build_dense(cfg, worker.input_shape, worker.num_classes))
    model = worker.model
    t0 = time.perf_counter()
    for rnd in range(1, cfg.rounds + 1):
        lr = cfg.lr_for_round(rnd)
        for cid in sample_clients(cfg.seed, rnd, cfg.clients, cfg.clients_per_round):
            load_numpy_state(model, state)
            reset_masks(model)
            torch.manual_seed(client_seed(cfg.seed, rnd, cid))
            rng = np.random.default_rng([cfg.seed, rnd, cid, 0xDA7A])
            model.train()
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
            for _ in range(cfg.local_epochs):
                for xb, yb in clients[cid].batches(cfg.batch_size, rng):
                    opt.zero_grad(set_to_none=True)
                    F.cross_entropy(model(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
                    opt.step()
        # no aggregation: the bare loop keeps training from the same start state every round
    return time.perf_counter() - t0


def engine_run(cfg) -> float:
    """Wall seconds of a full engine run into a fresh temporary directory."""
    from zerofl_profiler.fl.engine import run

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        run(cfg, Path(d) / "run", progress=False)
        return time.perf_counter() - t0


def main() -> None:
    from zerofl_profiler.fl.config import RunConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=None, help="override the default run's rounds")
    args = ap.parse_args()
    cfg = RunConfig() if args.rounds is None else RunConfig(rounds=args.rounds)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; config: {cfg.dataset}/{cfg.model}, "
          f"N={cfg.clients} K={cfg.clients_per_round} R={cfg.rounds} E={cfg.local_epochs} B={cfg.batch_size} "
          f"sparsity={cfg.sparsity} upload={cfg.upload}")
    engine_run(cfg)  # warm-up (imports, first model build)
    bare_loop(cfg)
    eng, bare = [], []
    for _ in range(args.repeats):  # alternate the variants
        eng.append(engine_run(cfg))
        bare.append(bare_loop(cfg))
    me, mb = statistics.median(eng), statistics.median(bare)
    print(f"engine run   median {me:.3f} s  (runs: {', '.join(f'{v:.3f}' for v in eng)})")
    print(f"bare loop    median {mb:.3f} s  (runs: {', '.join(f'{v:.3f}' for v in bare)})")
    print(f"overhead     {100 * (me / mb - 1):+.1f} %  (target < 10 %)")

    big = RunConfig(clients=100, clients_per_round=10, rounds=args.rounds or 5)
    times = [engine_run(big) for _ in range(args.repeats)]
    mt = statistics.median(times)
    print(f"100 clients, 10 per round, {big.rounds} rounds: median {mt:.3f} s -> {big.rounds / mt:.2f} rounds/s "
          f"(runs: {', '.join(f'{v:.3f}' for v in times)})")


if __name__ == "__main__":
    main()
