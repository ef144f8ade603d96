"""Benchmark: a 10^6-record run loaded, validated and re-costed on 10 devices.

Writes a version-2 run directory -- trace lines made from a real engine record
(tests/traces/fixtures/v1_sparse, the shipped cnn, upgraded to v2) or with ``--template resnet`` a
synthetic 20-layer record, varied per line, config.toml with its [trace] table, layers.json --
then prints measured medians (wall time and CPU time: the machine is shared):

- load + validate: ``load_run`` (columns, msgspec) in records/s, and the standard-library
  fallback on a slice of the same lines;
- raw decoding of the same lines with msgspec (typed), msgspec (untyped), orjson (if installed)
  and ``json``, alternating, on a slice -- the measurement behind the decoder choice;
- end to end: ``zerofl-profile estimate RUN --device x10 --no-per-round`` in a subprocess, its wall
  time and peak RSS (from wait4);
- the costing alone (numpy over synthetic columns, 10 devices, with and without a device mix).

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

import numpy as np

from zerofl_profiler.analysis.estimate import Costing, RecordColumns, estimate_columns
from zerofl_profiler.analysis.workload import from_layers
from zerofl_profiler.hardware_models import get_network, resolve_device
from zerofl_profiler.hardware_models.population import parse_mix
from zerofl_profiler.traces import ClientRoundRecord, EnergyBlock, TraceInfo, load_columns, load_run
from zerofl_profiler.traces.io import strip_run_skipped
from zerofl_profiler.traces.schema import FLOP_BLOCK_KEYS
DEVICES = ("h100", "a100", "v100", "t4", "jetson-agx-orin@30W", "jetson-xavier-nx", "jetson-tx2", "jetson-nano",
           "snapdragon-865-gpu", "snapdragon-888-cpu")


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
    return {"optimizer": "sgd", "layers": rows}


def synthetic_columns(n: int, clients_per_round: int = 10, population: int = 100) -> RecordColumns:
    """n client-round records: rounds of clients_per_round drawn from a population of client ids."""
    rng = np.random.default_rng(1)
    steps = rng.integers(5, 50, size=n).astype(np.float64)
    per_step = np.array([1e9, 1e9, 1e9, 5e7, 1e7])
    fd = steps[:, None] * per_step[None, :] * rng.uniform(0.9, 1.1, size=(n, 5))
    dens = np.c_[rng.uniform(0.05, 0.2, size=(n, 3)), np.ones((n, 2))]
    return RecordColumns(
        rounds=np.arange(n, dtype=np.int64) // clients_per_round,
        client_ids=rng.integers(0, population, size=n).astype(np.int64), steps=steps, fd=fd, fs=fd * dens,
        bytes_down=np.full(n, 4.5e7), bytes_up=rng.uniform(5e6, 1e7, size=n), bytes_up_dense=np.full(n, 4.5e7))


SKIPPED = {"nvml": "no NVIDIA driver/GPU reachable through NVML (NVML Shared Library Not Found)",
           "rapl": "no powercap sysfs at /sys/class/powercap (not Linux, or no RAPL driver)",
           "codecarbon": "not used by auto; select it by name", "replay": "not used by auto; select it by name"}


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


FIXTURE = Path(__file__).parents[1] / "tests" / "traces" / "fixtures" / "v1_sparse"


def engine_record() -> tuple[dict, dict]:
    """(the first record, the layers.json) of a real engine run (the shipped cnn), as a v2 trace line."""
    from zerofl_profiler.traces import load_run

    data = load_run(FIXTURE)
    return strip_run_skipped(data.clients[0].to_dict(), data.trace.energy_skipped), data.layers or {}


def write_run(run: Path, n: int, clients_per_round: int = 10, template: str = "engine") -> float:
    """A version-2 run directory with n client-round records; returns the mean trace line length."""
    import tomli_w

    run.mkdir(parents=True)
    if template == "engine":
        tpl, layers = engine_record()
        info = TraceInfo(engine="inprocess", upload="topk-weights", encoding="csr", model="cnn",
                         energy_skipped=load_run(FIXTURE).trace.energy_skipped)
    else:
        tpl, layers = template_record(), synthetic_layers()
        info = TraceInfo(engine="inprocess", upload="topk-weights", encoding="csr", model="resnet18",
                         energy_skipped=SKIPPED)
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


def decoder_rates(path: Path, n: int, repeats: int) -> dict[str, float]:
    """Records per CPU-second of each available decoder on the first n lines (alternating rounds, medians)."""
    import msgspec

    from zerofl_profiler.traces.decoders import typed_lines_decoder

    with open(path, "rb") as fh:
        lines = [fh.readline() for _ in range(n)]
    buf = b"".join(lines)
    typed = typed_lines_decoder(ClientRoundRecord)
    untyped = msgspec.json.Decoder().decode_lines
    variants = {"msgspec typed (validates)": lambda: typed(buf), "msgspec untyped": lambda: untyped(buf),
                "json.loads": lambda: [json.loads(x) for x in lines]}
    try:
        import orjson

        variants["orjson"] = lambda: [orjson.loads(x) for x in lines]
    except ImportError:
        pass
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for k, f in variants.items():
            t0 = time.process_time()
            f()
            times[k].append(time.process_time() - t0)
    return {k: n / statistics.median(v) for k, v in times.items()}


def run_estimate_cli(run: Path) -> tuple[float, float, int, int]:
    """(wall s, CPU s, peak RSS bytes, exit code) of `zerofl-profile estimate` on 10 devices, in a fresh process."""
    args = [sys.executable, "-m", "zerofl_profiler", "estimate", str(run), "--no-per-round"]
    for d in DEVICES:
        args += ["--device", d]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(err, file=sys.stderr)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, code  # Linux reports kB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--slice", type=int, default=20_000, help="lines for the decoder and fallback comparisons")
    ap.add_argument("--template", choices=("engine", "resnet"), default="engine",
                    help="engine: the first record of the shipped v1 fixture run (cnn, 4 layers), as v2; "
                         "resnet: a synthetic record with 20 layers of densities")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as td:
        run = Path(td) / "run"
        t0 = time.perf_counter()
        mean_line = write_run(run, a.records, template=a.template)
        size = (run / "trace.jsonl").stat().st_size
        print(f"wrote {a.records:,} records ({size / 1e6:,.0f} MB, {mean_line:,.0f} B per line) in "
              f"{time.perf_counter() - t0:.1f} s")

        for k, r in decoder_rates(run / "trace.jsonl", min(a.slice, a.records), a.repeats).items():
            print(f"decode {min(a.slice, a.records):,} lines, {k}: {r:,.0f} records per CPU-second "
                  f"(median of {a.repeats})")

        n_slice = min(a.slice, a.records)
        sl = Path(td) / "slice.jsonl"
        with open(run / "trace.jsonl", "rb") as src, open(sl, "wb") as dst:
            for _ in range(n_slice):
                dst.write(src.readline())
        fast, slow = [], []
        for _ in range(a.repeats):  # alternate the two decoders of the loader
            t0 = time.perf_counter()
            load_columns(sl, decoder="msgspec")
            fast.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            load_columns(sl, decoder="json")
            slow.append(time.perf_counter() - t0)
        print(f"load_columns on {n_slice:,} lines: msgspec {n_slice / statistics.median(fast):,.0f} records/s, "
              f"stdlib fallback {n_slice / statistics.median(slow):,.0f} records/s (medians of {a.repeats})")

        from zerofl_profiler.analysis.estimate import RECORD_FIELDS

        for label, fields in (("all columns", None), ("the costing's columns", RECORD_FIELDS)):
            loads, cpus = [], []
            for _ in range(a.repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                data = load_run(run, fields=fields)
                loads.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
                assert len(data.columns) == a.records
                del data
            med, cpu = statistics.median(loads), statistics.median(cpus)
            print(f"load + validate (load_run, {label}) {a.records:,} records: median wall {med:.2f} s = "
                  f"{a.records / med:,.0f} records/s (min {min(loads):.2f}, max {max(loads):.2f}); median CPU "
                  f"{cpu:.2f} s = {a.records / cpu:,.0f} records per CPU-second")

        walls, cpus, rss = [], [], []
        for _ in range(a.repeats):
            wall, cpu, peak, code = run_estimate_cli(run)
            if code:
                raise SystemExit(f"estimate failed with exit code {code}")
            walls.append(wall)
            cpus.append(cpu)
            rss.append(peak)
        print(f"end to end `zerofl-profile estimate` ({a.records:,} records, {len(DEVICES)} devices): median wall "
              f"{statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}), median CPU "
              f"{statistics.median(cpus):.2f} s, peak RSS {max(rss) / 2**20:,.0f} MiB")

    step = from_layers(synthetic_layers())
    profiles = tuple(resolve_device(d) for d in DEVICES)
    net = get_network("lte")
    variants = {
        "10 devices": Costing(profiles, net),
        "10 devices + 50/50 mix": Costing(profiles, net, parse_mix("jetson-nano=0.5,snapdragon-865-cpu=0.5",
                                                                     resolve_device)),
    }
    cols = synthetic_columns(a.records)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(a.repeats):  # alternate the variants round by round
        for name, costing in variants.items():
            t0 = time.perf_counter()
            entries, _ = estimate_columns(cols, step, costing, seed=0)
            times[name].append(time.perf_counter() - t0)
            assert len(entries) == len(costing.devices) + (1 if costing.mix else 0)
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"costing alone, {a.records:,} records, {name}: median {med:.2f} s "
              f"(min {min(ts):.2f}, max {max(ts):.2f})")


if __name__ == "__main__":
    main()
