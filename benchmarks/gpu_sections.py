"""The sections of benchmarks/gpu_check.sh: each prints figures and appends them to one results file.

    python benchmarks/gpu_sections.py SECTION --results FILE [--budget-s S]

Runs with the project's source on PYTHONPATH and only torch, numpy, click, rich, matplotlib and
nvidia-ml-py; a section that needs a module the machine lacks names it and is skipped. Each
section stops itself within its budget and writes what it measured so far.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SECTIONS: dict[str, Callable[[argparse.Namespace], list[str]]] = {}


def section(name: str) -> Callable[[Callable[[argparse.Namespace], list[str]]], Callable[[argparse.Namespace], list[str]]]:
    """Register a section under its command-line name."""
    def deco(fn: Callable[[argparse.Namespace], list[str]]) -> Callable[[argparse.Namespace], list[str]]:
        SECTIONS[name] = fn
        return fn
    return deco


def need(*modules: str) -> None:
    """Raise SystemExit(3) naming the first module that cannot be imported."""
    for m in modules:
        try:
            importlib.import_module(m)
        except ImportError:
            raise SystemExit(f"SKIP: needs the Python module {m!r}") from None


def need_cuda() -> None:
    """Skip (SystemExit) where torch sees no CUDA device."""
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("SKIP: torch sees no CUDA device")


def cli(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `zerofl-profile ARGS` from the source tree."""
    return subprocess.run([sys.executable, "-m", "zerofl_profiler", *args], capture_output=True, text=True,
                          timeout=timeout)


@section("env")
def env(args: argparse.Namespace) -> list[str]:
    """The GPU, driver, torch and precision settings the figures below were measured with."""
    need("torch")
    import torch

    from zerofl_profiler.fl.accelerator import accelerator_info

    need_cuda()
    info = accelerator_info("cuda:0").to_dict()
    return [f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", f"torch {torch.__version__}",
            "accelerator " + json.dumps(info)]


@section("nvml")
def nvml(args: argparse.Namespace) -> list[str]:
    """The real NVML backend: a matmul loop measured in one window (what tests/power/test_nvml_gpu.py checks)."""
    need("torch", "pynvml")
    need_cuda()
    import torch

    from zerofl_profiler.power import make_meter

    meter = make_meter("nvml")
    a = torch.randn(4096, 4096, device="cuda")
    t_end = time.perf_counter() + min(20.0, args.budget_s / 2)
    with meter.window("matmul") as win:
        n = 0
        while time.perf_counter() < t_end:
            a = (a @ a).clamp_(-1, 1)
            n += 1
        torch.cuda.synchronize()
    res = win.result
    avg = res.total_j / res.duration_s if res.total_j and res.duration_s else None
    return [f"nvml matmul window: {n} 4096^2 matmuls, {res.duration_s:.2f} s, energy {res.total_j} J, "
            f"average power {avg and round(avg, 1)} W, method {res.method}"]


@section("train3")
def train3(args: argparse.Namespace) -> list[str]:
    """A 3-round CUDA run of the default configuration with NVML energy in every record."""
    need("torch", "pynvml")
    need_cuda()
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "run"
        r = cli("train", "--out", str(out), "--rounds", "3", "--accelerator", "cuda", "--energy", "nvml",
                "--quiet", "--json", timeout=args.budget_s)
        if r.returncode != 0:
            return [f"train3 FAILED (exit {r.returncode}): {r.stderr.strip()[-500:]}"]
        recs = [json.loads(ln) for ln in (out / "trace.jsonl").read_text().splitlines()]
    srcs = sorted({rec["energy"]["source"] for rec in recs})
    joules = [rec["energy"]["total_j"] for rec in recs]
    mem = [rec.get("peak_mem_bytes", rec.get("extra", {}).get("peak_mem_bytes")) for rec in recs]
    dev = [rec.get("accelerator_time_s", rec.get("extra", {}).get("accelerator_time_s")) for rec in recs]
    ok = srcs == ["nvml"] and all(j is not None and j > 0 for j in joules)
    return [f"train3 {'PASS' if ok else 'FAIL'}: {len(recs)} client-rounds, energy sources {srcs}, "
            f"energy per client-round median {statistics.median(j or 0 for j in joules):.3g} J, "
            f"accelerator time median {statistics.median(x or 0 for x in dev):.3g} s, "
            f"peak device memory median {statistics.median(m or 0 for m in mem) / 2**20:.1f} MiB"]


@section("overhead")
def overhead(args: argparse.Namespace) -> list[str]:
    """The engine's step time against a bare CUDA loop on the same batches, dense and SWAT (target < 10 %)."""
    need("torch")
    need_cuda()
    lines = []
    for sp in ("0", "0.9"):
        r = subprocess.run([sys.executable, "benchmarks/bench_engine.py", "--accelerator", "cuda", "--repeats", "3",
                            "--rounds", "3", "--sparsity", sp, "--skip-scale"], capture_output=True, text=True,
                           timeout=args.budget_s / 2)
        lines += [f"sparsity {sp}: {ln.strip()}" for ln in r.stdout.splitlines() if "overhead" in ln or "median" in ln]
        if r.returncode != 0:
            lines.append(f"sparsity {sp}: FAILED {r.stderr.strip()[-300:]}")
    return lines


@section("resnet18")
def resnet18(args: argparse.Namespace) -> list[str]:
    """ResNet-18 rounds per second on CIFAR-shaped data (synthetic, 3x32x32), dense and 90 % SWAT."""
    need("torch")
    need_cuda()
    lines = []
    for sp in ("0", "0.9"):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            r = cli("train", "--out", str(Path(d) / "run"), "--dataset", "synthetic", "--model", "resnet18",
                    "--clients", "10", "--clients-per-round", "10", "--rounds", "2", "--local-epochs", "1",
                    "--batch-size", "32", "--sparsity", sp, "--accelerator", "cuda", "--energy", "none",
                    "--quiet", "--json", timeout=args.budget_s / 2)
            wall = time.perf_counter() - t0
            if r.returncode != 0:
                lines.append(f"resnet18 sparsity {sp}: FAILED {r.stderr.strip()[-300:]}")
                continue
            recs = [json.loads(ln) for ln in (Path(d) / "run" / "trace.jsonl").read_text().splitlines()]
        per_client = statistics.median(rec["wall_time_s"] for rec in recs)
        samples = statistics.median(rec["samples"] for rec in recs)
        lines.append(f"resnet18 sparsity {sp}: median client-round {per_client:.3f} s for {samples:g} samples "
                     f"(1 epoch, batch 32) -> {samples / per_client:.0f} samples/s; whole command {wall:.1f} s")
    return lines


@section("calibrate")
def calibrate(args: argparse.Namespace) -> list[str]:
    """`zerofl-profile calibrate` with the GPU included (quick mode, to fit the budget)."""
    need("torch")
    need_cuda()
    with tempfile.TemporaryDirectory() as d:
        r = cli("calibrate", "--out", str(Path(d) / "gpu.toml"), "--quick", "--json", timeout=args.budget_s)
        if r.returncode != 0:
            return [f"calibrate FAILED (exit {r.returncode}): {r.stderr.strip()[-500:]}"]
        return ["calibrate: " + r.stdout.strip()[:3000]]


@section("swat")
def swat(args: argparse.Namespace) -> list[str]:
    """SWAT step / dense step ratios and their breakdown on the GPU (benchmarks/bench_sparse.py --device cuda)."""
    need("torch")
    need_cuda()
    bench = Path(__file__).with_name("bench_sparse.py")
    r = subprocess.run([sys.executable, str(bench), "--device", "cuda", "--rounds", "3"], capture_output=True,
                       text=True, timeout=args.budget_s)
    if r.returncode != 0:
        return [f"swat FAILED (exit {r.returncode}): {r.stderr.strip()[-500:]}"]
    return r.stdout.strip().splitlines()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("section", choices=sorted(SECTIONS))
    ap.add_argument("--results", required=True, help="file the figures are appended to")
    ap.add_argument("--budget-s", type=float, default=60.0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    try:
        lines = SECTIONS[args.section](args)
    except subprocess.TimeoutExpired:
        lines = [f"TIMEOUT after {args.budget_s:.0f} s"]
    except SystemExit as exc:
        lines = [str(exc)]
    text = "\n".join(f"[{args.section}] {ln}" for ln in lines) + f"\n[{args.section}] ({time.perf_counter() - t0:.1f} s)\n"
    print(text, end="", flush=True)
    with open(args.results, "a", encoding="utf-8") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
