"""The sections of benchmarks/gpu_check.sh: each prints figures and appends them to one results file.

    python benchmarks/gpu_sections.py SECTION --results FILE [--budget-s S]

Runs with the project's source on PYTHONPATH and only torch, numpy, click, rich, matplotlib and
nvidia-ml-py; a section that needs a module the machine lacks names it and is skipped. A section
is a generator of result lines: each line is appended to the results file (and flushed) as soon as
it is measured, so a section cut short by its budget keeps what it measured so far. Subprocesses
get what is left of the section's budget (``left()``).

``GPU_CHECK_DEVICE=cpu`` is a dry run for machines without a GPU (the tests use it): the same
commands on the CPU, energy off, every line marked ``DRY RUN (cpu)``; its figures are not GPU figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

Section = Callable[[argparse.Namespace], Iterator[str]]
SECTIONS: dict[str, Section] = {}
_DEADLINE = [math.inf]  # perf_counter() by which the section must be done
DEVICE = os.environ.get("GPU_CHECK_DEVICE", "cuda")  # "cpu": the dry run
DRY = DEVICE == "cpu"
ENERGY = "none" if DRY else "nvml"


def section(name: str) -> Callable[[Section], Section]:
    """Register a section under its command-line name."""
    def deco(fn: Section) -> Section:
        SECTIONS[name] = fn
        return fn
    return deco


def left(share: float = 1.0) -> float:
    """Seconds a subprocess may take: ``share`` of what is left of the section's budget (at least 1)."""
    return max(1.0, share * (_DEADLINE[0] - time.perf_counter()))


def need(*modules: str) -> None:
    """Raise SystemExit(3) naming the first module that cannot be imported."""
    for m in modules:
        try:
            importlib.import_module(m)
        except ImportError:
            raise SystemExit(f"SKIP: needs the Python module {m!r}") from None


def need_cuda() -> None:
    """Skip (SystemExit) where torch sees no CUDA device (the dry run goes on, on the CPU)."""
    import torch

    if not DRY and not torch.cuda.is_available():
        raise SystemExit("SKIP: torch sees no CUDA device")


# ------------------------------------------------------------------ the commands (tests parse them)
def train3_args(out: Path) -> list[str]:
    """`train`: the default configuration for 3 rounds on the GPU, NVML energy in every record."""
    return ["train", "--out", str(out), "--rounds", "3", "--accelerator", DEVICE, "--energy", ENERGY, "--quiet", "--json"]


def overhead_args(sparsity: str) -> list[str]:
    """benchmarks/bench_engine.py: the engine against a bare loop on the same batches."""
    return ["benchmarks/bench_engine.py", "--accelerator", DEVICE, "--repeats", "3", "--rounds", "3",
            "--sparsity", sparsity, "--skip-scale"]


def resnet18_args(out: Path, sparsity: str) -> list[str]:
    """`train`: ResNet-18 on CIFAR-shaped synthetic data (2000 samples), 10 clients a round, 2 rounds."""
    return ["train", "--out", str(out), "--dataset", "synthetic", "--model", "resnet18", "--clients", "10",
            "--clients-per-round", "10", "--rounds", "2", "--local-epochs", "1", "--batch-size", "32",
            "--sparsity", sparsity, "--accelerator", DEVICE, "--energy", "none", "--quiet", "--json"]


def calibrate_args(out: Path) -> list[str]:
    """`calibrate --quick`: the host and, where CUDA is available, the GPU."""
    return ["calibrate", "--out", str(out), "--quick", "--json"]


def cli(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `zerofl-profile ARGS` from the source tree."""
    return subprocess.run([sys.executable, "-m", "zerofl_profiler", *args], capture_output=True, text=True,
                          timeout=timeout)


@section("env")
def env(args: argparse.Namespace) -> Iterator[str]:
    """The GPU, driver, torch and precision settings the figures below were measured with."""
    need("torch")
    import torch

    from zerofl_profiler.fl.accelerator import accelerator_info

    need_cuda()
    yield f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; torch {torch.__version__}; python {sys.version.split()[0]}"
    yield "accelerator " + json.dumps(accelerator_info("cpu" if DRY else "cuda:0").to_dict())


@section("nvml")
def nvml(args: argparse.Namespace) -> Iterator[str]:
    """The real NVML backend: a matmul loop measured in one window (what tests/power/test_nvml_gpu.py checks)."""
    need("torch", "pynvml")
    need_cuda()
    if DRY:
        raise SystemExit("SKIP: the dry run has no GPU for NVML to read")
    import torch

    from zerofl_profiler.power import make_meter

    meter = make_meter("nvml")
    a = torch.randn(4096, 4096, device="cuda")
    t_end = time.perf_counter() + min(20.0, left(0.6))
    with meter.window("matmul") as win:
        n = 0
        while time.perf_counter() < t_end:
            a = (a @ a).clamp_(-1, 1)
            n += 1
        torch.cuda.synchronize()
    res = win.result
    avg = res.total_j / res.duration_s if res.total_j and res.duration_s else None
    yield (f"nvml matmul window: {n} 4096^2 matmuls, {res.duration_s:.2f} s, energy {res.total_j} J, "
           f"average power {avg and round(avg, 1)} W, method {res.method}")
    meter.close()


@section("train3")
def train3(args: argparse.Namespace) -> Iterator[str]:
    """A 3-round CUDA run of the default configuration with NVML energy in every record."""
    need("torch", *(() if DRY else ("pynvml",)))
    need_cuda()
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "run"
        r = cli(*train3_args(out), timeout=left())
        if r.returncode != 0:
            yield f"train3 FAILED (exit {r.returncode}): {r.stderr.strip()[-500:]}"
            return
        recs = [json.loads(ln) for ln in (out / "trace.jsonl").read_text().splitlines()]
    srcs = sorted({rec["energy"]["source"] for rec in recs})
    joules = [rec["energy"]["total_j"] for rec in recs]
    mem = [rec.get("peak_mem_bytes", rec.get("extra", {}).get("peak_mem_bytes")) for rec in recs]
    dev = [rec.get("accelerator_time_s", rec.get("extra", {}).get("accelerator_time_s")) for rec in recs]
    ok = srcs == [ENERGY] and all(j is not None and j > 0 for j in joules) if not DRY else srcs == ["none"]
    yield (f"train3 {'PASS' if ok else 'FAIL'}: {len(recs)} client-rounds, energy sources {srcs}, "
           f"energy per client-round median {statistics.median(j or 0 for j in joules):.3g} J, "
           f"accelerator time median {statistics.median(x or 0 for x in dev):.3g} s, "
           f"peak device memory median {statistics.median(m or 0 for m in mem) / 2**20:.1f} MiB")


@section("overhead")
def overhead(args: argparse.Namespace) -> Iterator[str]:
    """The engine's step time against a bare CUDA loop on the same batches, dense and SWAT (target < 10 %)."""
    need("torch")
    need_cuda()
    for i, sp in enumerate(("0", "0.9")):
        r = subprocess.run([sys.executable, *overhead_args(sp)], capture_output=True, text=True,
                           timeout=left(0.5 if i == 0 else 1.0))
        yield from (f"sparsity {sp}: {ln.strip()}" for ln in r.stdout.splitlines() if "overhead" in ln or "median" in ln)
        if r.returncode != 0:
            yield f"sparsity {sp}: FAILED {r.stderr.strip()[-300:]}"


@section("resnet18")
def resnet18(args: argparse.Namespace) -> Iterator[str]:
    """ResNet-18 rounds per second on CIFAR-shaped data (synthetic, 3x32x32), dense and 90 % SWAT."""
    need("torch")
    need_cuda()
    for i, sp in enumerate(("0", "0.9")):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            r = cli(*resnet18_args(Path(d) / "run", sp), timeout=left(0.5 if i == 0 else 1.0))
            wall = time.perf_counter() - t0
            if r.returncode != 0:
                yield f"resnet18 sparsity {sp}: FAILED {r.stderr.strip()[-300:]}"
                continue
            recs = [json.loads(ln) for ln in (Path(d) / "run" / "trace.jsonl").read_text().splitlines()]
            rounds = [json.loads(ln) for ln in (Path(d) / "run" / "rounds.jsonl").read_text().splitlines()]
        per_client = statistics.median(rec["wall_time_s"] for rec in recs)
        samples = statistics.median(rec["samples"] for rec in recs)
        per_round = statistics.median(r["round_wall_time_s"] for r in rounds)
        yield (f"resnet18 sparsity {sp}: {1 / per_round:.3g} rounds/s (median round {per_round:.3f} s, 10 clients); "
               f"median client-round {per_client:.3f} s for {samples:g} samples (1 epoch, batch 32) -> "
               f"{samples / per_client:.0f} samples/s; whole command {wall:.1f} s")


@section("calibrate")
def calibrate(args: argparse.Namespace) -> Iterator[str]:
    """`zerofl-profile calibrate` with the GPU included (quick mode, to fit the budget)."""
    need("torch")
    need_cuda()
    out = Path(args.results).with_name("calibrated.toml")  # kept beside the results: the measured device file
    r = cli(*calibrate_args(out), timeout=left())
    if r.returncode != 0:
        yield f"calibrate FAILED (exit {r.returncode}): {r.stderr.strip()[-500:]}"
        return
    yield f"calibrate: device file {out}; " + " ".join(r.stdout.split())[:4000]


@section("semi24")
def semi24(args: argparse.Namespace) -> list[str]:
    """2:4 semi-structured SWAT linear: same output and gradients as masked dense; forward GEMM and step times."""
    need("torch")
    need_cuda()
    import torch
    import torch.nn.functional as F

    from zerofl_profiler.sparse.functions import SwatLinearFn
    from zerofl_profiler.sparse.kernels import SemiStructuredLinearFn, nm_mask, semi_structured_supported
    from zerofl_profiler.sparse.masks import topk_sparsify

    why = semi_structured_supported()
    if why is not None:
        raise SystemExit(f"SKIP: 2:4 semi-structured {why}")
    t_end = time.perf_counter() + args.budget_s * 0.8
    lines = []
    torch.manual_seed(0)
    dev, dt = "cuda", torch.float16
    x, w, b = (torch.randn(256, 512, device=dev, dtype=dt), torch.randn(256, 512, device=dev, dtype=dt),
               torch.randn(256, device=dev, dtype=dt))
    w_sp, x_sp = w * nm_mask(w), topk_sparsify(x, 0.5)
    outs = []
    for fn in (SwatLinearFn, SemiStructuredLinearFn):
        xa, wa, ba = (t.detach().clone().requires_grad_(True) for t in (x, w, b))
        y = fn.apply(xa, wa, ba, x_sp, w_sp)
        y.float().sum().backward()
        outs.append((y.detach(), xa.grad, wa.grad, ba.grad))
    err = max(float((a.float() - r.float()).abs().max() / r.float().abs().max().clamp_min(1e-6))
              for a, r in zip(outs[1], outs[0]))
    lines.append(f"gradient check (256x512 fp16, 2:4 weights, activation density 0.5): max |semi - masked dense| / "
                 f"max |masked dense| {err:.3g} over the output and the three gradients "
                 f"({'PASS' if err < 1e-2 else 'FAIL'} at 1e-2)")

    def cuda_ms(fn: Callable[[], object], reps: int = 20) -> float:
        fn()
        torch.cuda.synchronize()
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        stop.record()
        torch.cuda.synchronize()
        return start.elapsed_time(stop) / reps

    for n in (1024, 4096, 8192):
        if time.perf_counter() > t_end:
            lines.append(f"stopped before {n}x{n}: budget")
            break
        xs = torch.randn(n, n, device=dev, dtype=dt)
        ws = torch.randn(n, n, device=dev, dtype=dt)
        wm = ws * nm_mask(ws)
        w_ss = torch.sparse.to_sparse_semi_structured(wm)
        dense = cuda_ms(lambda: F.linear(xs, wm))
        semi = cuda_ms(lambda: F.linear(xs, w_ss))
        semi_conv = cuda_ms(lambda: F.linear(xs, torch.sparse.to_sparse_semi_structured(wm)))
        lines.append(f"forward GEMM {n}x{n} @ {n}x{n} fp16: dense {dense:.3f} ms, 2:4 {semi:.3f} ms "
                     f"(x{dense / semi:.2f}), 2:4 with the conversion SWAT pays every step {semi_conv:.3f} ms "
                     f"(x{dense / semi_conv:.2f})")
        xa = xs.detach().clone().requires_grad_(True)
        wa = ws.detach().clone().requires_grad_(True)
        xsp = topk_sparsify(xs, 0.5)
        steps = {}
        for name, fn in (("masked dense", SwatLinearFn), ("2:4 forward", SemiStructuredLinearFn)):
            steps[name] = cuda_ms(lambda fn=fn: fn.apply(xa, wa, None, xsp, wm).sum().backward(), reps=10)
        lines.append(f"  SWAT linear forward+backward {n}: masked dense {steps['masked dense']:.3f} ms, "
                     f"2:4 forward product {steps['2:4 forward']:.3f} ms "
                     f"(x{steps['masked dense'] / steps['2:4 forward']:.2f}; backward stays dense)")
    return lines


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
    _DEADLINE[0] = t0 + args.budget_s - 2.0  # leave time to write the last line

    def emit(line: str) -> None:
        text = f"[{args.section}] {'DRY RUN (cpu): ' if DRY else ''}{line}\n"
        print(text, end="", flush=True)
        with open(args.results, "a", encoding="utf-8") as fh:
            fh.write(text)

    try:
        for line in SECTIONS[args.section](args):
            emit(line)
    except subprocess.TimeoutExpired as exc:
        emit(f"TIMEOUT: {' '.join(map(str, exc.cmd[1:4]))} ran past the section's {args.budget_s:.0f} s budget")
    except SystemExit as exc:
        emit(str(exc))
    except Exception as exc:  # noqa: BLE001 - one line in the results, never a traceback; the next section runs
        emit(f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    emit(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
