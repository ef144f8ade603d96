"""SWAT step vs dense step on the CPU: median ratios against the targets, and where the extra time goes.

    .venv/bin/python benchmarks/bench_sparse.py [--rounds 3] [--threads 1,2] [--cases resnet18,cnn] [--device cuda]
    .venv/bin/python benchmarks/bench_sparse.py --kernels 0.5,0.2,0.1,0.05,0.01 [--cases cnn] [--threads 1]

One training step = zero_grad, forward, cross-entropy, backward, SGD (momentum 0.9) update, on
fixed random batches shaped like the run's data (ResNet-18 at batch 32 on 3x32x32, ``cnn`` at
batch 16 on 1x8x8). Variants -- dense, SWAT 90 % with exact masks every step (the default), SWAT
90 % with ``--mask-schedule swat-threshold --mask-every 10`` -- run in alternating rounds in one
process (the machine swings 30-50 %); each round is one block of steps per variant that starts
from freshly reset masks, as a client-round does, so the threshold schedule refreshes once per 10
steps. The ratio is the median over rounds of (SWAT block time / dense block time of the same
round); the PASS/FAIL column judges that wall-time ratio, and the CPU-time ratio (process CPU
seconds, which a core taken by another process inflates less) is printed beside it. The breakdown times the SWAT pieces alone on the tensors a real step sees (every SWAT
layer's weight and input): weight mask, activation mask, density statistics; the rest of the
difference to the dense step is "autograd + other" (custom Function, extra copies, Python).
``--kernels`` instead times, per weight density, the dense step, the masked-dense SWAT step and the
same step on real CSR kernels (``--sparse-kernels csr``), with their ratios (``kernel_section``).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from zerofl_profiler.models import build_model
from zerofl_profiler.sparse import SparseConfig, reset_masks, sparsify, swat_layers


@dataclass(frozen=True)
class Case:
    """A benchmarked model shape: name, input (C, H, W), batch, steps per block, exact/threshold targets."""

    model: str
    shape: tuple[int, int, int]
    batch: int
    steps: int
    target_exact: float
    target_threshold: float


CASES = {
    "resnet18": Case("resnet18", (3, 32, 32), 32, 10, 1.3, 1.1),
    "cnn": Case("cnn", (1, 8, 8), 16, 40, 1.5, 1.2),
}
#: variant -> SparseConfig keyword arguments (None = the dense model)
VARIANTS: dict[str, dict | None] = {
    "dense": None,
    "exact": {"mask_every": 1},
    "swat-threshold/10": {"mask_every": 10, "mask_schedule": "swat-threshold"},
}


def _sparse_config(kw: dict) -> SparseConfig | None:
    """The variant's config, or None when this version of the code does not know the option."""
    try:
        return SparseConfig(0.9, **kw)
    except TypeError:
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _block(model: nn.Module, opt: torch.optim.Optimizer, batches: list[tuple[torch.Tensor, torch.Tensor]]
           ) -> tuple[float, float]:
    """(wall, process CPU) seconds of one block of training steps from freshly reset masks."""
    reset_masks(model)
    device = batches[0][0].device
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    for xb, yb in batches:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    _sync(device)
    return time.perf_counter() - t0, time.process_time() - c0


def _alternate(models: dict, opts: dict, batches: list[tuple[torch.Tensor, torch.Tensor]], rounds: int
               ) -> tuple[dict, dict]:
    """(wall, CPU) seconds per block of every model, one block each per round in a rotating order."""
    wall: dict = {k: [] for k in models}
    cpu: dict = {k: [] for k in models}
    order = list(models)
    for r in range(rounds):
        for k in order[r % len(order):] + order[:r % len(order)]:
            w, c = _block(models[k], opts[k], batches)
            wall[k].append(w)
            cpu[k].append(c)
    return wall, cpu


def _time(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``fn`` over at least ``repeats`` calls (more for sub-millisecond pieces)."""
    dev = torch.device("cuda") if torch.cuda.is_available() and torch.cuda.is_initialized() else torch.device("cpu")
    t0 = time.perf_counter()
    fn()
    _sync(dev)
    first = time.perf_counter() - t0
    out = []
    for _ in range(max(repeats, min(200, int(0.02 / max(first, 1e-6))))):
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def breakdown(model: nn.Module, xb: torch.Tensor, repeats: int) -> dict[str, float]:
    """Seconds per step of the SWAT pieces alone, summed over the SWAT layers: weight / activation mask, stats."""
    from zerofl_profiler.sparse import masks

    inputs: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_pre_hook(lambda mod, a, n=n: inputs.__setitem__(n, a[0].detach()))
             for n, m in swat_layers(model).items()]
    model(xb)
    for h in hooks:
        h.remove()
    pieces = masks.benchmark_pieces() if hasattr(masks, "benchmark_pieces") else _legacy_pieces()
    out = {k: 0.0 for k in pieces}
    for n, m in swat_layers(model).items():
        w, x = m.weight.detach(), inputs[n]
        for k, fn in pieces.items():
            out[k] += _time(lambda: fn(w, x, m.weight_density, m.activation_density), repeats)
    return out


def _legacy_pieces() -> dict[str, Callable[..., object]]:
    """The SWAT step's pieces in the version with index-scatter masks and count_nonzero statistics."""
    from zerofl_profiler.sparse.masks import topk_mask, topk_sparsify
    from zerofl_profiler.sparse.stats import DensityStats

    st = DensityStats()
    return {
        "weight mask": lambda w, x, dw, da: w * topk_mask(w, dw),
        "activation mask": lambda w, x, dw, da: topk_sparsify(x, da),
        "statistics": lambda w, x, dw, da: st.add(w, x, True, True),
    }


def run_case(case: Case, threads: list[int], rounds: int, bd_repeats: int, device: torch.device) -> list[str]:
    """Time one case at every thread count; returns the printed lines."""
    torch.manual_seed(0)
    dense = build_model(case.model, num_classes=10, input_shape=case.shape).to(device)
    models: dict[str, nn.Module] = {}
    for name, kw in VARIANTS.items():
        if kw is None:
            models[name] = copy.deepcopy(dense)
            continue
        cfg = _sparse_config(kw)
        if cfg is not None:
            models[name] = sparsify(copy.deepcopy(dense), cfg)
    for m in models.values():
        m.train()
    opts = {n: torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for n, m in models.items()}
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(case.batch, *case.shape, generator=g).to(device),
                torch.randint(0, 10, (case.batch,), generator=g).to(device)) for _ in range(case.steps)]
    lines: list[str] = []

    def emit(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    for t in threads:
        torch.set_num_threads(t)
        for n in models:  # warm-up: allocator, first-call kernels
            _block(models[n], opts[n], batches[:2])
        times, cpu = _alternate(models, opts, batches, rounds)
        dense_ms = 1e3 * statistics.median(times["dense"]) / case.steps
        where = f"{t} thread(s)" if device.type == "cpu" else str(device)
        emit(f"{case.model} b{case.batch}, {where}: dense step {dense_ms:.2f} ms (median of {rounds})")
        for n in models:
            if n == "dense":
                continue
            ratio = statistics.median(s / d for s, d in zip(times[n], times["dense"]))
            cpu_ratio = statistics.median(s / d for s, d in zip(cpu[n], cpu["dense"]))
            target = case.target_exact if n == "exact" else case.target_threshold
            ms = 1e3 * statistics.median(times[n]) / case.steps
            emit(f"  {n:<20} {ms:9.2f} ms/step  ratio {ratio:5.2f}x  target <= {target:.1f}x  "
                 f"{'PASS' if ratio <= target else 'FAIL'}   (CPU-time ratio {cpu_ratio:.2f}x)")
        missing = [n for n in VARIANTS if n not in models]
        for n in missing:
            emit(f"  {n:<20} (not supported by this version)")
        bd = breakdown(models["exact"], batches[0][0], bd_repeats)
        extra = 1e3 * (statistics.median(times["exact"]) - statistics.median(times["dense"])) / case.steps
        parts = "  ".join(f"{k} {1e3 * v:.2f}" for k, v in bd.items())
        emit(f"  breakdown of the exact step's extra {extra:.2f} ms: {parts}  "
                     f"autograd + other {extra - 1e3 * sum(bd.values()):.2f} (ms/step)")
    return lines


# ------------------------------------------------------------------ real sparse kernels (CSR), per density
def kernel_section(case: Case, densities: list[float], batch: int, steps: int, rounds: int) -> list[str]:
    """Dense vs masked-dense (the SWAT simulation) vs CSR training steps per density, on the CPU.

    Weight and activation density equal, the first conv dense; every model steps through the same
    batches in alternating rounds (rotating order); ratios are medians over rounds of the same
    round's times. Ends with the layer-level curve that `calibrate` writes into the device file and
    the same measurement for the forward GEMM alone.
    """
    from zerofl_profiler.calibration.sparse_curve import measure_csr_curve

    torch.manual_seed(0)
    dense = build_model(case.model, num_classes=10, input_shape=case.shape)
    models: dict[tuple[str, float], nn.Module] = {("dense", 1.0): copy.deepcopy(dense)}
    for d in densities:
        for kind, kernels in (("masked", "off"), ("csr", "csr")):
            models[(kind, d)] = sparsify(copy.deepcopy(dense), SparseConfig(1.0 - d, kernels=kernels))
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for k, m in models.items()}
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(batch, *case.shape, generator=g), torch.randint(0, 10, (batch,), generator=g))
               for _ in range(steps)]
    for k in models:  # warm-up
        _block(models[k], opts[k], batches[:1])
    wall, cpu = _alternate(models, opts, batches, rounds)

    def ratio(a: tuple[str, float], b: tuple[str, float], t: dict[tuple[str, float], list[float]]) -> float:
        return statistics.median(x / y for x, y in zip(t[a], t[b]))

    base = ("dense", 1.0)
    step_ms = {k: 1e3 * statistics.median(v) / steps for k, v in wall.items()}
    lines = [f"{case.model} b{batch} {case.shape}, {torch.get_num_threads()} thread(s), torch {torch.__version__}: "
             f"dense step {step_ms[base]:.3g} ms; medians of {rounds} alternating rounds x {steps} steps "
             f"(ratios: wall, CPU time in brackets)", "",
             "| density | masked-dense step | CSR step | masked-dense / dense | CSR / dense | CSR / masked-dense |",
             "|---:|---:|---:|---:|---:|---:|"]
    for d in densities:
        m, c = ("masked", d), ("csr", d)
        lines.append(f"| {d:g} | {step_ms[m]:.3g} ms | {step_ms[c]:.3g} ms | {ratio(m, base, wall):.2f}x "
                     f"({ratio(m, base, cpu):.2f}x) | {ratio(c, base, wall):.2f}x ({ratio(c, base, cpu):.2f}x) | "
                     f"{ratio(c, m, wall):.2f}x ({ratio(c, m, cpu):.2f}x) |")
    clock = "cpu" if torch.get_num_threads() == 1 else "wall"
    for level, what in (("layer", "layer-level curve (what `calibrate` writes as sparse_efficiency_curve)"),
                        ("gemm", "forward GEMM alone")):
        curve = measure_csr_curve(densities, rounds=max(3, rounds), clock=clock, level=level)
        lines += ["", f"{what}: " + curve.quote(),
                  "efficiency per density: " + ", ".join(f"{p.density:g}: {p.efficiency:.3g}" for p in curve.points),
                  f"break-even density (CSR faster than dense at or below): {curve.break_even_density()}"]
    for line in lines:
        print(line, flush=True)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per thread count (more = steadier)")
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    ap.add_argument("--cases", default="resnet18,cnn", help=f"comma-separated, from {', '.join(CASES)}")
    ap.add_argument("--breakdown-repeats", type=int, default=3, help="repeats per piece in the breakdown")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda; on cuda --threads is ignored")
    ap.add_argument("--kernels", default=None, metavar="D,D,...",
                    help="instead: dense / masked-dense / CSR step per weight density (CPU, first --threads, "
                         "first --cases), e.g. 0.5,0.2,0.1,0.05,0.01")
    ap.add_argument("--kernel-batch", type=int, default=None, help="batch of the --kernels section (default: the case's)")
    ap.add_argument("--kernel-steps", type=int, default=5, help="steps per block in the --kernels section")
    args = ap.parse_args()
    if args.kernels:
        case = CASES[args.cases.split(",")[0].strip()]
        old = torch.get_num_threads()
        torch.set_num_threads(int(args.threads.split(",")[0]))
        try:
            kernel_section(case, [float(d) for d in args.kernels.split(",")], args.kernel_batch or case.batch,
                           args.kernel_steps, args.rounds)
        finally:
            torch.set_num_threads(old)
        return
    device = torch.device(args.device)
    threads = [int(s) for s in args.threads.split(",") if s.strip()] if device.type == "cpu" else [torch.get_num_threads()]
    old = torch.get_num_threads()
    try:
        for name in [s.strip() for s in args.cases.split(",") if s.strip()]:
            run_case(CASES[name], threads, args.rounds, args.breakdown_repeats, device)
    finally:
        torch.set_num_threads(old)


if __name__ == "__main__":
    main()
