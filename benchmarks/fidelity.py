"""Fidelity of the cost model on this host: measured vs predicted training-step times.

Measures real training steps (forward + backward + plain SGD; the real SWAT path of
``zerofl_profiler.sparse`` when sparsity > 0) of the five built-in models at batch sizes and
sparsities that the calibration does NOT use (calibration: batch 6/12/24, sparsity 0, 0.7, 0.95;
here: other batch sizes, sparsity 0, 0.5 and 0.9), timed in interleaved rounds (medians), and
predicts each with a calibrated host device through ``analysis.estimate.compare_workload`` --
the code path of `zerofl-profile compare`. Each sample is one step after one untimed step of
the same case (the steady state of a training loop, not a cold cache after 29 other models).
Prints per-case error, the MAPE and the noise floor (median over cases of the (p90 - p10) /
median spread of the repeated measurements).

Then prints the same comparison for published per-device times (cited in PUBLISHED) on the
catalogue devices.

    .venv/bin/python benchmarks/fidelity.py --calibrate --threads 1 --clock cpu   # shared machine
    .venv/bin/python benchmarks/fidelity.py --device-file ~/.config/zerofl-profiler/host.toml
    .venv/bin/python benchmarks/fidelity.py --quick          # a smoke run (2 models, 2 rounds)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zerofl_profiler.analysis.estimate import Costing, compare_workload  # noqa: E402
from zerofl_profiler.calibration.run import threads_set  # noqa: E402
from zerofl_profiler.calibration.steps import NUM_CLASSES, StepSpec, layers_doc, make_step  # noqa: E402
from zerofl_profiler.calibration.timing import check_clock, time_interleaved  # noqa: E402
from zerofl_profiler.hardware_models.catalogue import resolve_device  # noqa: E402
from zerofl_profiler.hardware_models.spec import load_device_file  # noqa: E402
from zerofl_profiler.models import build_model, default_input_shape  # noqa: E402

#: model -> batch sizes (none of the calibration's 6, 12, 24)
CASES: dict[str, tuple[int, ...]] = {
    "lenet": (16, 64), "cnn": (32, 128), "vgg": (8, 32), "mobilenet": (8, 16), "resnet18": (4, 8)}
SPARSITIES = (0.0, 0.5, 0.9)
QUICK_CASES: dict[str, tuple[int, ...]] = {"lenet": (16,), "cnn": (32,)}


def _factory(name: str, shape: tuple[int, ...]) -> Any:
    return lambda: build_model(name, NUM_CLASSES, shape)


def specs(quick: bool) -> list[StepSpec]:
    """Every (model, batch, sparsity) case of the fidelity table."""
    out = []
    for name, batches in (QUICK_CASES if quick else CASES).items():
        shape = tuple(default_input_shape(name))
        for b in batches:
            for s in (SPARSITIES[::2] if quick else SPARSITIES):
                out.append(StepSpec(f"{name}-b{b}-s{s:g}", _factory(name, shape), shape, b, s))
    return out


def predict_step(doc: dict[str, Any], sparsity: float, profile: Any) -> float:
    """Seconds of one training step on ``profile`` through the `compare` code path (no network)."""
    res = compare_workload({sparsity: doc}, 1, Costing((profile,)))
    return float(res.points[0].cost.time_s)


@dataclass(frozen=True)
class Row:
    """One fidelity case: measured median, spread, prediction."""

    name: str
    measured_s: float
    spread: float
    predicted_s: float

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return (self.predicted_s - self.measured_s) / self.measured_s


def run_host(profile: Any, *, quick: bool, rounds: int, clock: str) -> list[Row]:
    """Time every case in interleaved rounds and predict it."""
    import torch

    clock_fn = check_clock(clock, torch.get_num_threads())
    cases = specs(quick)
    docs = {s.name: layers_doc(s) for s in cases}
    fns = {s.name: make_step(s) for s in cases}
    t0 = time.perf_counter()

    def eta(done: int, total: int) -> None:
        el = time.perf_counter() - t0
        print(f"  timing round {done}/{total}: {el:.0f} s elapsed, eta {el / done * (total - done):.0f} s",
              file=sys.stderr, flush=True)
    timings = time_interleaved(fns, rounds, warmup=2, min_sample_s=0.0, max_inner=1, clock=clock_fn, warm_calls=1,
                               progress=eta)
    return [Row(s.name, timings[s.name].median_s, timings[s.name].spread,
                predict_step(docs[s.name], s.sparsity, profile)) for s in cases]


# ----------------------------------------------------------------------------------------------
# published per-device times (cite exactly; never invent)


@dataclass(frozen=True)
class Published:
    """A published time of one model on one catalogue device, with its citation."""

    device: str
    model: str  # built-in name or a SPEC loadable by build_model
    input_shape: tuple[int, ...]
    batch_size: int
    phase: str  # "inference" (forward only) or "training" (one step)
    time_s: float
    ref: str
    quote: str
    caveat: str


PUBLISHED: tuple[Published, ...] = (
    Published("jetson-nano", str(ROOT / "benchmarks" / "_published_models.py") + ":resnet18_imagenet",
              (3, 256, 256), 1, "inference", 0.026,
              "kentaroy47/benchmark-FP32-FP16-INT8-with-TensorRT, README.md (GitHub), "
              "section 'Hardware:Jetson Nano.'",
              "Latency of image inference (1,3,256,256) [ms] | resnet18 | 26 (FP32)",
              "TensorRT FP32 engine (fused layers), torchvision-style ImageNet ResNet-18"),
)


def forward_only(doc: dict[str, Any]) -> dict[str, Any]:
    """The forward pass of a `flops --json` document (inference): backward, update and top-k zeroed."""
    out = dict(doc)
    layers = []
    for row in doc["layers"]:
        if row.get("name") == "<optimizer>" or row.get("op_class") == "topk":
            continue
        r = dict(row)
        for kind in ("dense", "sparse"):
            r[kind] = {k: (v if k == "forward" else 0) for k, v in row[kind].items()}
        b = dict(row["bytes"])
        for kind in ("dense", "sparse"):
            b[kind] = {k: (v if k == "forward" else {"read": 0, "written": 0}) for k, v in row["bytes"][kind].items()}
        r["bytes"] = b
        layers.append(r)
    out["layers"] = layers
    return out


def run_published() -> list[dict[str, Any]]:
    """Predict each published case on its catalogue device."""
    from zerofl_profiler.flops import count_training_step

    rows = []
    for p in PUBLISHED:
        model = build_model(p.model, NUM_CLASSES if "imagenet" not in p.model else 1000, p.input_shape)
        doc = count_training_step(model, p.input_shape, p.batch_size, optimizer="sgd").to_json()
        if p.phase == "inference":
            doc = forward_only(doc)
        prof = resolve_device(p.device)
        pred = predict_step(doc, 0.0, prof)
        rows.append({"device": prof.name, "model": Path(p.model.split(":")[-1]).name, "input": list(p.input_shape),
                     "batch": p.batch_size, "phase": p.phase, "published_s": p.time_s, "predicted_s": pred,
                     "error": (pred - p.time_s) / p.time_s, "ref": p.ref, "quote": p.quote, "caveat": p.caveat})
    return rows


# ----------------------------------------------------------------------------------------------


def _host_profile(args: argparse.Namespace) -> tuple[Any, str]:
    if args.calibrate:
        from zerofl_profiler.calibration.device_file import write_device_file
        from zerofl_profiler.calibration.run import calibrate_host

        out = Path(tempfile.mkdtemp()) / "host.toml"
        res = calibrate_host(quick=args.quick, clock=args.clock, progress=lambda m: print(m, file=sys.stderr))
        write_device_file(res, out)
        return load_device_file(out).profile(), str(out)
    if args.device_file:
        return load_device_file(args.device_file).profile(), args.device_file
    return resolve_device("host"), "host"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device-file", default=None, help="calibrated host TOML (default: the `host` device)")
    ap.add_argument("--calibrate", action="store_true", help="calibrate first (into a temp file) and use that")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--clock", default="wall", choices=("wall", "cpu"))
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with threads_set(args.threads):
        import torch

        profile, src = _host_profile(args)
        rows = run_host(profile, quick=args.quick, rounds=args.rounds or (2 if args.quick else 7), clock=args.clock)
        threads = torch.get_num_threads()
    errs = np.array([abs(r.error) for r in rows])
    spreads = np.array([r.spread for r in rows])
    pub = run_published()
    doc = {"device": src, "clock": args.clock, "threads": threads, "cases": [dict(r.__dict__, error=r.error)
                                                                              for r in rows],
           "mape": float(errs.mean()), "mape_dense": float(np.mean([abs(r.error) for r in rows
                                                                   if r.name.endswith("-s0")])),
           "mape_sparse": float(np.mean([abs(r.error) for r in rows if not r.name.endswith("-s0")])),
           "noise_floor": float(np.median(spreads)), "published": pub, "wall_s": time.perf_counter() - t0,
           "date": time.strftime("%Y-%m-%d", time.gmtime())}
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        print()
        return 0
    print(f"host fidelity ({src}; clock={args.clock}, threads={threads}, date {doc['date']})")
    print(f"{'case':24s} {'measured ms':>12s} {'spread':>7s} {'predicted ms':>13s} {'error':>8s}")
    for r in rows:
        print(f"{r.name:24s} {r.measured_s * 1e3:12.2f} {r.spread:7.1%} {r.predicted_s * 1e3:13.2f} {r.error:+8.1%}")
    print(f"MAPE {doc['mape']:.1%} (dense {doc['mape_dense']:.1%}, sparse {doc['mape_sparse']:.1%}); "
          f"noise floor (median p10-p90 spread) {doc['noise_floor']:.1%}; {len(rows)} cases, {doc['wall_s']:.0f} s")
    print("\npublished per-device times (catalogue devices):")
    for p in pub:
        print(f"  {p['device']:14s} {p['model']} {p['input']} b{p['batch']} {p['phase']}: published "
              f"{p['published_s'] * 1e3:.1f} ms, predicted {p['predicted_s'] * 1e3:.1f} ms ({p['error']:+.0%})")
        print(f"    source: {p['ref']}: \"{p['quote']}\" -- caveat: {p['caveat']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
