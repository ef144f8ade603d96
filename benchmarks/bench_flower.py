"""In-process engine vs Flower simulation (Ray) on the same config: wall time, peak memory, start-up vs per round.

    .venv/bin/python benchmarks/bench_flower.py [--repeats 3] [--rounds 6] [--clients 10] [--per-round 5]
                                                [--threads 1]

Each run is a fresh child process (so imports, Ray start-up and data loading are paid as a user
pays them), and the variants alternate run by run. The parent samples the resident memory of the
child's whole process tree (Ray's GCS, raylet and worker processes included) every 50 ms and
keeps the peak. From the engines' own progress events it splits the wall time into a per-round
cost (median gap between consecutive round ends after the first round) and a fixed start-up cost
(total wall minus rounds x per-round cost: interpreter, imports, data, Ray, actors' first round).
Medians over the repeats and Flower/in-process ratios are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(engine: str, out: str, rounds: int, clients: int, per_round: int, threads: int) -> None:
    """Run one engine and print the progress timestamps as one JSON line (seconds since start)."""
    t0 = float(os.environ["BENCH_T0"])
    import torch

    if engine == "inprocess" and threads > 0:
        torch.set_num_threads(threads)  # what each Flower client runs with (torch_threads)
    from zerofl_profiler.config import RunConfig

    cfg = RunConfig(rounds=rounds, clients=clients, clients_per_round=per_round)
    marks: list[tuple[str, int, float]] = []

    def hook(ev) -> None:
        marks.append((ev.kind, ev.round, time.time() - t0))

    if engine == "flower":
        from zerofl_profiler.fl.flower import run_flower

        s = run_flower(cfg, out, progress=hook, torch_threads=max(1, threads))
    else:
        from zerofl_profiler.fl.engine import run

        s = run(cfg, out, progress=hook)
    print(json.dumps({"marks": marks, "end": time.time() - t0, "accuracy": s.final_accuracy,
                      "flops_sparse": s.flops_sparse, "bytes_up": s.bytes_up}))


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def measure(engine: str, args: argparse.Namespace) -> dict:
    """One child run: its timings from progress events and the peak RSS of its process tree."""
    with tempfile.TemporaryDirectory() as d:
        t0 = time.time()
        env = dict(os.environ, BENCH_T0=repr(t0))
        cmd = [sys.executable, __file__, "--child", engine, "--out", str(Path(d) / "run"), "--rounds",
               str(args.rounds), "--clients", str(args.clients), "--per-round", str(args.per_round),
               "--threads", str(args.threads)]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        peak = 0
        while p.poll() is None:
            peak = max(peak, tree_rss(p.pid))
            time.sleep(0.05)
        wall = time.time() - t0
        out = p.stdout.read() if p.stdout else ""
        if p.returncode != 0:
            raise SystemExit(f"{engine} run failed (exit {p.returncode})")
    res = json.loads(out.strip().splitlines()[-1])
    ends = [t for kind, _, t in res["marks"] if kind == "round"]
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    per_round = statistics.median(gaps) if gaps else float("nan")
    return {"wall_s": wall, "peak_rss_mib": peak / 2**20, "per_round_s": per_round,
            "startup_s": wall - len(ends) * per_round, "first_round_end_s": ends[0] if ends else float("nan"),
            "flops_sparse": res["flops_sparse"], "bytes_up": res["bytes_up"], "accuracy": res["accuracy"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--per-round", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads per client on both engines (0: in-process keeps torch's default)")
    ap.add_argument("--child", choices=["inprocess", "flower"])
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.out, args.rounds, args.clients, args.per_round, args.threads)
        return
    print(f"config: digits + cnn (defaults), {args.clients} clients, {args.per_round}/round, {args.rounds} rounds; "
          f"{os.cpu_count()} CPUs; Flower: Ray, 1 CPU per client; torch threads per client: "
          f"{args.threads or 'torch default (in-process)'}")
    runs: dict[str, list[dict]] = {"inprocess": [], "flower": []}
    for i in range(args.repeats):
        for engine in (("inprocess", "flower") if i % 2 == 0 else ("flower", "inprocess")):
            r = measure(engine, args)
            runs[engine].append(r)
            print(f"  repeat {i + 1} {engine:9s}: wall {r['wall_s']:6.1f} s, start-up {r['startup_s']:5.1f} s, "
                  f"per round {r['per_round_s']:5.2f} s, peak RSS {r['peak_rss_mib']:6.0f} MiB", flush=True)
    a, b = runs["inprocess"], runs["flower"]
    assert all(x["flops_sparse"] == a[0]["flops_sparse"] and x["bytes_up"] == a[0]["bytes_up"] for x in a + b), \
        "engines disagree on FLOPs or bytes"
    print(f"\nmedians over {args.repeats} runs        in-process     flower   flower/in-process")
    for key, label in (("wall_s", "wall time (s)"), ("startup_s", "fixed start-up (s)"),
                       ("per_round_s", "per round (s)"), ("peak_rss_mib", "peak RSS, tree (MiB)")):
        ma, mb = statistics.median(x[key] for x in a), statistics.median(x[key] for x in b)
        print(f"  {label:28s} {ma:10.2f} {mb:10.2f} {mb / ma:10.2f}x")
    print(f"  same FLOPs and bytes on both engines: yes (sparse FLOPs {a[0]['flops_sparse']:,}, "
          f"bytes up {a[0]['bytes_up']:,})")


if __name__ == "__main__":
    main()
