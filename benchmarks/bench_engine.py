"""Engine overhead vs a bare loop over the same sparsified model and the same batches; rounds/s.

    .venv/bin/python benchmarks/bench_engine.py [--repeats 3] [--rounds 5] [--accelerator cuda]
        [--sparsity 0.9] [--upload topk-diff] [--model resnet18 --dataset synthetic --batch-size 32]
    .venv/bin/python benchmarks/bench_engine.py --durability [--repeats 5] [--dir PATH]

Part 1 times the in-process engine (sampling, client records, FLOP counting, upload encoding,
aggregation, server evaluation, checkpoint and trace writes) against a bare loop that runs exactly
the same local SGD steps -- the same SWAT model object, the same clients, the same shuffled
batches -- and nothing else. Variants alternate round by round; medians and the ratio are printed.
Part 2 reports rounds per second for 100 clients, 10 per round, on the default data and model.
``--durability`` instead times what the trace's fsync rule costs: the engine as built (trace
fsynced once per round) against the same run with every client record fsynced, alternating, in
``--dir`` (default: the temporary directory; pick the disk you train on, a tmpfs fsync is free);
and the bare cost of one fsynced append there.
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


def bare_loop(cfg) -> tuple[float, float]:
    """The same local training steps as the engine, with no engine around them; (wall, CPU) seconds."""
    from zerofl_profiler.fl.client import client_seed
    from zerofl_profiler.fl.engine import load_run_data
    from zerofl_profiler.fl.sampling import sample_clients
    from zerofl_profiler.fl.accelerator import device_batches, device_ops
    from zerofl_profiler.fl.worker import build_dense, get_worker, load_numpy_state, run_device, state_to_numpy
    from zerofl_profiler.sparse import reset_masks

    train, _test, clients, _ = load_run_data(cfg)
    worker = get_worker(cfg, train.input_shape, train.num_classes)
    state = state_to_numpy(build_dense(cfg, worker.input_shape, worker.num_classes))
    model = worker.model
    from zerofl_profiler.fl.runtime import apply_threads

    device = run_device(cfg)
    ops = device_ops(device)
    old_threads = apply_threads(cfg)  # the engine trains with the same thread count
    ops.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
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
                for xb, yb in device_batches(clients[cid], cfg.batch_size, rng, device):
                    opt.zero_grad(set_to_none=True)
                    F.cross_entropy(model(xb), yb).backward()
                    opt.step()
        # no aggregation: the bare loop keeps training from the same start state every round
    ops.synchronize()
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    torch.set_num_threads(old_threads)
    return elapsed


def engine_run(cfg, where: str | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of a full engine run into a fresh temporary directory."""
    from zerofl_profiler.fl.engine import run

    with tempfile.TemporaryDirectory(dir=where) as d:
        t0, c0 = time.perf_counter(), time.process_time()
        run(cfg, Path(d) / "run", progress=False)
        return time.perf_counter() - t0, time.process_time() - c0


def report(label: str, eng: list[float], bare: list[float]) -> None:
    """Medians, ratio of medians, median of paired ratios and ratio of the fastest runs."""
    me, mb = statistics.median(eng), statistics.median(bare)
    paired = statistics.median(e / b for e, b in zip(eng, bare))
    print(f"{label}: engine median {me:.3f} s ({', '.join(f'{v:.3f}' for v in eng)}); "
          f"bare loop median {mb:.3f} s ({', '.join(f'{v:.3f}' for v in bare)})")
    print(f"  overhead: ratio of medians {100 * (me / mb - 1):+.1f} %, median paired ratio {100 * (paired - 1):+.1f} %, "
          f"fastest vs fastest {100 * (min(eng) / min(bare) - 1):+.1f} %  (target < 10 %)")


def per_record_fsync_run(cfg, where: str | None) -> float:
    """Wall seconds of the same engine run with the trace fsynced after every client record."""
    import zerofl_profiler.traces.rundir as rundir

    real = rundir.JsonlWriter
    rundir.JsonlWriter = lambda path, fsync=True: real(path, fsync=True)  # type: ignore[misc]
    try:
        return engine_run(cfg, where)[0]
    finally:
        rundir.JsonlWriter = real  # type: ignore[misc]


def append_cost(where: str | None, n: int = 200) -> tuple[float, float]:
    """(seconds per flushed append, seconds per flushed + fsynced append) of a 2 kB record in ``where``."""
    import os

    line = "x" * 2047 + "\n"
    out = []
    for sync in (False, True):
        with tempfile.TemporaryDirectory(dir=where) as d, open(os.path.join(d, "t.jsonl"), "a") as fh:
            t0 = time.perf_counter()
            for _ in range(n):
                fh.write(line)
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
            out.append((time.perf_counter() - t0) / n)
    return out[0], out[1]


def durability(args) -> None:
    """The trace's fsync rule: per round (as built) vs per record, on the same run."""
    from zerofl_profiler.config import RunConfig

    cfg = RunConfig(clients=100, clients_per_round=10, rounds=args.rounds or 5, local_epochs=1)
    where = args.dir
    print(f"durability: N={cfg.clients} K={cfg.clients_per_round} R={cfg.rounds} E={cfg.local_epochs} "
          f"({cfg.rounds * cfg.clients_per_round} client records) in {where or tempfile.gettempdir()}")
    engine_run(cfg, where)  # warm-up
    per_round, per_record = [], []
    for _ in range(args.repeats):  # alternate the variants
        per_round.append(engine_run(cfg, where)[0])
        per_record.append(per_record_fsync_run(cfg, where))
    mr, mc = statistics.median(per_round), statistics.median(per_record)
    print(f"  trace fsynced per round (as built): median {mr:.3f} s ({', '.join(f'{v:.3f}' for v in per_round)})")
    print(f"  trace fsynced per record:           median {mc:.3f} s ({', '.join(f'{v:.3f}' for v in per_record)})")
    print(f"  per-record / per-round: ratio of medians {mc / mr:.3f}, "
          f"median paired ratio {statistics.median(c / r for c, r in zip(per_record, per_round)):.3f}")
    flushed, synced = append_cost(where)
    print(f"  one 2 kB append: flushed {1e6 * flushed:.1f} us, flushed + fsynced {1e6 * synced:.1f} us")


def main() -> None:
    from zerofl_profiler.config import RunConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=None, help="override the default run's rounds")
    ap.add_argument("--accelerator", default="cpu", help="device to train on (cpu, cuda, cuda:N, mps)")
    ap.add_argument("--sparsity", type=float, default=None, help="override the default run's SWAT sparsity")
    ap.add_argument("--model", default=None)
    ap.add_argument("--dataset", default=None, help="e.g. synthetic for CIFAR-shaped data without files")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--upload", default=None, help="upload variant (e.g. topk-diff, to time the sparse encoding)")
    ap.add_argument("--skip-scale", action="store_true", help="skip the 100-client rounds/s part")
    ap.add_argument("--durability", action="store_true", help="time the trace's fsync rule instead")
    ap.add_argument("--dir", default=None, help="where --durability writes its runs (default: the temp dir)")
    args = ap.parse_args()
    if args.durability:
        durability(args)
        return
    over = {k: v for k, v in (("rounds", args.rounds), ("sparsity", args.sparsity), ("model", args.model),
                              ("dataset", args.dataset), ("batch_size", args.batch_size),
                              ("upload", args.upload)) if v is not None}
    cfg = RunConfig(accelerator=args.accelerator, **over)
    print(f"device {args.accelerator}; torch {torch.__version__}, torch threads while training {cfg.threads} (0 = default); config: {cfg.dataset}/{cfg.model}, "
          f"N={cfg.clients} K={cfg.clients_per_round} R={cfg.rounds} E={cfg.local_epochs} B={cfg.batch_size} "
          f"sparsity={cfg.sparsity} upload={cfg.upload}")
    engine_run(cfg)  # warm-up (imports, first model build)
    bare_loop(cfg)
    eng, bare = [], []
    for _ in range(args.repeats):  # alternate the variants
        eng.append(engine_run(cfg))
        bare.append(bare_loop(cfg))
    report("wall time", [e[0] for e in eng], [b[0] for b in bare])
    report("CPU time ", [e[1] for e in eng], [b[1] for b in bare])

    if args.skip_scale:
        return
    big = cfg.with_updates(clients=100, clients_per_round=10, rounds=args.rounds or 5)
    times = [engine_run(big)[0] for _ in range(args.repeats)]
    mt = statistics.median(times)
    print(f"100 clients, 10 per round, {big.rounds} rounds: median {mt:.3f} s -> {big.rounds / mt:.2f} rounds/s "
          f"(runs: {', '.join(f'{v:.3f}' for v in times)})")


if __name__ == "__main__":
    main()
