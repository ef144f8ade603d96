"""Benchmark: a 10^6-record run loaded, validated and re-costed on 10 devices, against the targets.

Writes a version-2 run directory -- trace lines made from a real engine record
(tests/traces/fixtures/v1_sparse, the shipped cnn, upgraded to v2) or with ``--template resnet`` a
synthetic 20-layer record, varied per line; config.toml with its [trace] table; layers.json --
then prints measured medians of alternating repeats (wall time and CPU time: the machine is shared):

- raw decoding of a slice of the lines with msgspec (typed, validating), msgspec (untyped), orjson
  (if installed) and ``json``: the measurement behind the decoder choice;
- ``load_columns`` on the slice with msgspec and with the standard-library fallback;
- load + validate: ``load_run`` on the whole trace (all columns, and only the costing's columns) in
  records/s, in one process and in worker processes (one per usable core), alternating; CPU time
  includes the workers';
- end to end: ``zerofl-profile estimate RUN --device x10 --no-per-round`` in a fresh subprocess, its
  wall and CPU time (from wait4) and peak RSS (its own VmHWM, and its largest worker's), with
  ``ZEROFL_LOAD_WORKERS=1`` and without, alternating;
- the costing alone: numpy over synthetic columns (10^5 rounds of 10 clients, 5-49 batches of 32 per
  record, one in ten ending with a partial batch of 7), 10 devices over LTE, with and without a
  50/50 device mix.

The last lines compare the figures with the targets (PASS/FAIL): load + validate at least 200,000
records/s, ``estimate`` at most 10 s end to end, peak RSS under 1 GB.

    .venv/bin/python benchmarks/bench_estimate.py [--records 1000000] [--repeats 3] [--slice 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from zerofl_profiler.analysis.estimate import RECORD_FIELDS
from zerofl_profiler.hardware_models import Costing, get_network, resolve_device
from zerofl_profiler.hardware_models.population import parse_mix
from zerofl_profiler.hardware_models.rounds import price_population
from zerofl_profiler.hardware_models.workload import ClientRounds, batch_triplets, from_layers
from zerofl_profiler.traces import ClientRoundRecord, EnergyBlock, TraceInfo, load_columns, load_run
from zerofl_profiler.traces.io import strip_run_skipped
from zerofl_profiler.traces.parallel import WORKERS_ENV, worker_count
from zerofl_profiler.traces.schema import FLOP_BLOCK_KEYS

DEVICES = ("h100", "a100", "v100", "t4", "jetson-agx-orin@30W", "jetson-xavier-nx", "jetson-tx2", "jetson-nano",
           "snapdragon-865-gpu", "snapdragon-888-cpu")
#: The targets (records/s of load + validate; seconds of `estimate` end to end; bytes of peak RSS).
TARGET_LOAD_RATE = 200_000
TARGET_ESTIMATE_S = 10.0
TARGET_RSS_BYTES = 10**9
FIXTURE = Path(__file__).parents[1] / "tests" / "traces" / "fixtures" / "v1_sparse"
SKIPPED = {"nvml": "no NVIDIA driver/GPU reachable through NVML (NVML Shared Library Not Found)",
           "rapl": "no powercap sysfs at /sys/class/powercap (not Linux, or no RAPL driver)",
           "codecarbon": "not used by auto; select it by name", "replay": "not used by auto; select it by name"}


def synthetic_layers(n_gemm: int = 20) -> dict:
    """A ResNet-sized layers document: n_gemm sparsified GEMM rows, each followed by a BN-like row."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_gemm):
        f = int(rng.integers(10**7, 10**8))
        w, x, y = (int(v) for v in rng.integers(10**4, 10**6, size=3))
        ph = {"forward": {"read": 4 * (w + x), "written": 4 * y},
              "backward_input": {"read": 4 * (y + w), "written": 4 * x},
              "backward_weight": {"read": 4 * (y + x), "written": 4 * w}}
        rows.append({"name": f"conv{i}", "type": "Conv2d", "op_class": "gemm", "sparsified": i > 0,
                     "dense": {"forward": f, "backward_input": f, "backward_weight": f, "update": 0},
                     "sparse": {"forward": f // 10, "backward_input": f // 10, "backward_weight": f // 10,
                                "update": 0},
                     "bytes": {"dtype_bytes": 4, "weights": 4 * w, "input": 4 * x, "output": 4 * y, "dense": ph}})
        rows.append({"name": f"bn{i}", "type": "BatchNorm2d", "op_class": "elementwise",
                     "dense": {"forward": 4 * y, "backward_input": 6 * y},
                     "sparse": {"forward": 4 * y, "backward_input": 6 * y},
                     "bytes": {"dense": {"forward": {"read": 4 * y, "written": 4 * y},
                                         "backward_input": {"read": 8 * y, "written": 4 * y}}}})
    rows.append({"name": "<optimizer>", "type": "sgd", "op_class": "optimizer", "dense": {"update": 3 * 10**7},
                 "sparse": {"update": 3 * 10**7}, "bytes": {"dense": {"update": {"read": 10**8, "written": 8 * 10**7}}}})
    return {"optimizer": "sgd", "batch_size": 32, "layers": rows}


def synthetic_columns(n: int, clients_per_round: int = 10, population: int = 100) -> ClientRounds:
    """n client-round records: rounds of clients_per_round drawn from a population of client ids.

    Each runs ``steps`` batches of 32 and, one record in ten, a partial last batch of 7.
    """
    rng = np.random.default_rng(1)
    steps = rng.integers(5, 50, size=n).astype(np.float64)
    per_step = np.array([1e9, 1e9, 1e9, 5e7, 1e7])
    fd = steps[:, None] * per_step[None, :] * rng.uniform(0.9, 1.1, size=(n, 5))
    dens = np.c_[rng.uniform(0.05, 0.2, size=(n, 3)), np.ones((n, 2))]
    batches = [[32] * (int(s) - 1) + [7 if i % 10 == 0 else 32] for i, s in enumerate(steps)]
    sizes, rec, idx, cnt = batch_triplets(batches)
    return ClientRounds(
        rounds=np.arange(n, dtype=np.int64) // clients_per_round,
        client_ids=rng.integers(0, population, size=n).astype(np.int64), steps=steps, fd=fd, fs=fd * dens,
        bytes_down=np.full(n, 4.5e7), bytes_up=rng.uniform(5e6, 1e7, size=n), bytes_up_dense=np.full(n, 4.5e7),
        batch_sizes=sizes, batch_record=rec, batch_index=idx, batch_count=cnt)


def template_record(n_layers: int = 20) -> dict:
    """One record as the engine writes it (n_layers layers of densities, no measured energy, an estimate)."""
    block = {k: 10**9 + j for j, k in enumerate(FLOP_BLOCK_KEYS)}
    rec = ClientRoundRecord(
        run_id="20261201-000000-bench0", round=1, client_id=1, samples=320, steps=10, batch_sizes=[32] * 10,
        densities={f"layer{j}.conv": {"weight": 0.10004340277777769, "activation": 0.0999755859375}
                   for j in range(n_layers)},
        flops={"dense": block, "sparse": {k: v // 10 for k, v in block.items()}}, bytes_up=11352,
        bytes_up_dense=54824, bytes_down=54824, wall_time_s=0.08265106900000774, cpu_time_s=0.08190777800000015,
        peak_mem_bytes=412_000_256, mem_source="rss",
        energy=EnergyBlock(source="none", method="none", duration_s=0.08260270300002048, skipped=SKIPPED),
        energy_estimate=EnergyBlock(source="estimate", method="cpu-time-x-power", total_j=1.4319369749999997,
                                    domains_j={"cpu": 1.4319369749999997}, duration_s=0.08260270300002048,
                                    flags=("power: 17.5 W per busy CPU from device model host:cpu active_power_w",)),
        train_loss=1.9516829199261136, lr=0.1, timestamp=1796115503.279479, extra={"encode_time_s": 0.00088291})
    return strip_run_skipped(rec.to_dict(), SKIPPED)


def engine_record() -> tuple[dict, dict, dict[str, str]]:
    """(first record as a v2 line, layers.json, energy skip reasons) of a real engine run (the shipped cnn)."""
    data = load_run(FIXTURE)
    layers = data.layers.to_json() if data.layers is not None else {}
    return strip_run_skipped(data.clients[0].to_dict(), data.trace.energy_skipped), layers, data.trace.energy_skipped


def write_run(run: Path, n: int, clients_per_round: int = 10, template: str = "engine") -> float:
    """A version-2 run directory with n client-round records; returns the mean trace line length."""
    import tomli_w

    run.mkdir(parents=True)
    if template == "engine":
        tpl, layers, skipped = engine_record()
        model = "cnn"
    else:
        tpl, layers, skipped, model = template_record(), synthetic_layers(), SKIPPED, "resnet18"
    info = TraceInfo(engine="inprocess", upload="topk-weights", encoding="csr", model=model, energy_skipped=skipped)
    (run / "config.toml").write_text(tomli_w.dumps({"run_id": "bench", "trace": info.to_toml_dict()}))
    (run / "layers.json").write_text(json.dumps(layers))
    rng = random.Random(0)
    size = 0
    with open(run / "trace.jsonl", "w", encoding="utf-8") as fh:
        for i in range(n):
            tpl["round"], tpl["client_id"] = i // clients_per_round, i % clients_per_round
            tpl["steps"] = rng.randint(5, 50)
            tpl["wall_time_s"] = tpl["cpu_time_s"] = rng.random()
            tpl["bytes_up"] = rng.randint(5 * 10**6, 10**7)
            for kind in ("dense", "sparse"):
                tpl["flops"][kind]["forward"] = rng.randint(10**8, 10**10)
            line = json.dumps(tpl, separators=(",", ":")) + "\n"
            size += len(line)
            fh.write(line)
    return size / max(n, 1)


def cpu_time() -> float:
    """CPU seconds of this process and of its finished children (the loader's worker processes)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def alternate(variants: dict[str, Callable[[], Any]], repeats: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(wall s, CPU s, workers included) of each variant per repeat, the variants run in turn within each repeat."""
    walls: dict[str, list[float]] = {k: [] for k in variants}
    cpus: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for k, f in variants.items():
            t0, c0 = time.perf_counter(), cpu_time()
            f()
            walls[k].append(time.perf_counter() - t0)
            cpus[k].append(cpu_time() - c0)
    return walls, cpus


def decoder_rates(path: Path, n: int, repeats: int) -> dict[str, float]:
    """Records per CPU-second of each available decoder on the first n lines (alternating rounds, medians;
    the garbage collector off, as in the loader)."""
    import msgspec

    from zerofl_profiler.traces.decoders import typed_lines_decoder

    with open(path, "rb") as fh:
        lines = [fh.readline() for _ in range(n)]
    buf = b"".join(lines)
    typed = typed_lines_decoder(ClientRoundRecord)
    untyped = msgspec.json.Decoder().decode_lines
    variants: dict[str, Callable[[], Any]] = {
        "msgspec typed (validates)": lambda: typed(buf), "msgspec untyped": lambda: untyped(buf),
        "json.loads": lambda: [json.loads(x) for x in lines]}
    try:
        import orjson

        variants["orjson"] = lambda: [orjson.loads(x) for x in lines]
    except ImportError:
        pass
    import gc

    gc.disable()  # as the loader does: the garbage collector would sweep the decoded dicts
    try:
        _, cpus = alternate(variants, repeats)
    finally:
        gc.enable()
    return {k: n / statistics.median(v) for k, v in cpus.items()}


#: Runs the CLI and, at exit, prints its own peak RSS (VmHWM: this process's memory since exec, unlike
#: wait4's ru_maxrss, which on Linux keeps the high-water mark of the process that forked it -- here
#: the benchmark itself) and the largest worker's (ru_maxrss of the finished children, which counts
#: the pages a forked worker shares with its parent).
_PEAK_WRAPPER = """
import atexit, resource, runpy, sys
def peak():
    hwm = next((int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')), 0)
    print('@@peak-kb', hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
atexit.register(peak)
sys.argv[0] = 'zerofl-profile'
runpy.run_module('zerofl_profiler', run_name='__main__', alter_sys=True)
"""


def run_estimate_cli(run: Path, workers: str | None = None) -> tuple[float, float, int, int, int]:
    """(wall s, CPU s, peak RSS bytes, largest worker's peak RSS bytes, exit code) of `zerofl-profile estimate`
    on 10 devices, in a fresh process.

    CPU time includes the loader's worker processes. ``workers``: $ZEROFL_LOAD_WORKERS for the run.
    """
    args = [sys.executable, "-c", _PEAK_WRAPPER, "estimate", str(run), "--no-per-round"]
    for d in DEVICES:
        args += ["--device", d]
    env = dict(os.environ)
    if workers is not None:
        env[WORKERS_ENV] = workers
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(err, file=sys.stderr)
    peak = [ln.split()[1:] for ln in err.splitlines() if ln.startswith("@@peak-kb")]
    own, kids = (int(peak[-1][0]) * 1024, int(peak[-1][1]) * 1024) if peak else (usage.ru_maxrss * 1024, 0)
    return wall, usage.ru_utime + usage.ru_stime, own, kids, code


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--slice", type=int, default=20_000, help="lines for the decoder and fallback comparisons")
    ap.add_argument("--template", choices=("engine", "resnet"), default="engine",
                    help="engine: the first record of the shipped v1 fixture run (cnn), as v2; "
                         "resnet: a synthetic record with 20 layers of densities")
    ap.add_argument("--skip-costing", action="store_true", help="leave out the costing-alone section")
    a = ap.parse_args()
    n, reps = a.records, a.repeats
    summary: list[str] = []

    with tempfile.TemporaryDirectory() as td:
        run = Path(td) / "run"
        t0 = time.perf_counter()
        mean_line = write_run(run, n, template=a.template)
        size = (run / "trace.jsonl").stat().st_size
        print(f"wrote {n:,} records ({size / 1e6:,.0f} MB, {mean_line:,.0f} B per line, template {a.template}) in "
              f"{time.perf_counter() - t0:.1f} s")

        n_slice = min(a.slice, n)
        for k, r in decoder_rates(run / "trace.jsonl", n_slice, reps).items():
            print(f"decode {n_slice:,} lines, {k}: {r:,.0f} records per CPU-second (median of {reps})")

        sl = Path(td) / "slice.jsonl"
        with open(run / "trace.jsonl", "rb") as src, open(sl, "wb") as dst:
            for _ in range(n_slice):
                dst.write(src.readline())
        walls, cpus = alternate({"msgspec": lambda: load_columns(sl, decoder="msgspec"),
                                 "json": lambda: load_columns(sl, decoder="json")}, reps)
        for k, label in (("msgspec", "msgspec"), ("json", "stdlib fallback")):
            print(f"load_columns on {n_slice:,} lines, {label}: {n_slice / statistics.median(walls[k]):,.0f} "
                  f"records/s wall, {n_slice / statistics.median(cpus[k]):,.0f} per CPU-second (medians of {reps})")

        auto = worker_count(None)
        par = f"{auto} workers" if auto > 1 else "1 process (one core: no workers)"

        def load(fields: Any, workers: int) -> None:
            data = load_run(run, fields=fields, workers=workers)
            assert len(data.columns) == n

        variants = {}
        for label, fields in (("all columns", None), ("the costing's columns", RECORD_FIELDS)):
            variants[f"{label}, 1 process"] = lambda f=fields: load(f, 1)
            variants[f"{label}, {par}"] = lambda f=fields: load(f, auto)
        walls, cpus = alternate(variants, reps)
        for label in walls:
            med, cpu = statistics.median(walls[label]), statistics.median(cpus[label])
            print(f"load + validate (load_run, {label}) {n:,} records: median wall {med:.2f} s = {n / med:,.0f} "
                  f"records/s (min {min(walls[label]):.2f}, max {max(walls[label]):.2f}); median CPU {cpu:.2f} s "
                  f"= {n / cpu:,.0f} records per CPU-second")
            summary.append(f"{verdict(n / med >= TARGET_LOAD_RATE)} load + validate, {label}: {n / med:,.0f} "
                           f"records/s wall ({n / cpu:,.0f} per CPU-second); target >= {TARGET_LOAD_RATE:,}")

        est: dict[str, tuple[list[float], list[float], list[int], list[int]]] = {
            "1 process": ([], [], [], []), par: ([], [], [], [])}
        for _ in range(reps):
            for label, env in (("1 process", "1"), (par, None)):
                wall, cpu, peak, worker_peak, code = run_estimate_cli(run, env)
                if code:
                    raise SystemExit(f"estimate failed with exit code {code}")
                for acc, v in zip(est[label], (wall, cpu, peak, worker_peak)):
                    acc.append(v)
        for label, (walls_e, cpus_e, rss, worker_rss) in est.items():
            wall, cpu = statistics.median(walls_e), statistics.median(cpus_e)
            workers_note = (f", largest worker {max(worker_rss) / 2**20:,.0f} MiB (pages shared with the parent "
                            f"included)" if max(worker_rss) else "")
            print(f"end to end `zerofl-profile estimate` ({n:,} records, {len(DEVICES)} devices, load in {label}): "
                  f"median wall {wall:.2f} s (min {min(walls_e):.2f}, max {max(walls_e):.2f}), median CPU {cpu:.2f} s, "
                  f"peak RSS {max(rss) / 2**20:,.0f} MiB{workers_note} (max of {reps})")
            summary.append(f"{verdict(wall <= TARGET_ESTIMATE_S)} estimate end to end, load in {label}: {wall:.2f} s "
                           f"wall ({cpu:.2f} s CPU); target <= {TARGET_ESTIMATE_S:g} s")
            summary.append(f"{verdict(max(rss) < TARGET_RSS_BYTES)} estimate peak RSS, load in {label}: "
                           f"{max(rss) / 2**20:,.0f} MiB; target < {TARGET_RSS_BYTES / 2**20:,.0f} MiB (1 GB)")

    if not a.skip_costing:
        step = from_layers(synthetic_layers())
        profiles = tuple(resolve_device(d) for d in DEVICES)
        net = get_network("lte")
        costings = {
            "10 devices": Costing(profiles, net),
            "10 devices + 50/50 mix": Costing(profiles, net, parse_mix("jetson-nano=0.5,snapdragon-865-cpu=0.5",
                                                                         resolve_device)),
        }
        cols = synthetic_columns(n)
        walls, cpus = alternate({k: (lambda c=c: price_population(step, cols, c, seed=0)) for k, c in costings.items()},
                                reps)
        for name, ts in walls.items():
            med = statistics.median(ts)
            print(f"costing alone, {n:,} records, {name}: median wall {med:.2f} s (min {min(ts):.2f}, max "
                  f"{max(ts):.2f}), median CPU {statistics.median(cpus[name]):.2f} s; "
                  f"{n * len(DEVICES) / med / 1e6:.1f} M record-devices/s wall")

    print("targets (medians of alternating repeats on this machine):")
    for line in summary:
        print(f"  {line}")


if __name__ == "__main__":
    main()
