"""SWAT step vs dense step on the CPU: median ratios against the targets, and where the extra time goes.

    .venv/bin/python benchmarks/bench_sparse.py [--rounds 3] [--threads 1,2] [--cases resnet18,cnn] [--device cuda]
    .venv/bin/python benchmarks/bench_sparse.py --selection [--cases resnet18] [--threads 1,2] [--rounds 5]
    .venv/bin/python benchmarks/bench_sparse.py --kernels 0.5,0.2,0.1,0.05,0.01 [--cases cnn] [--threads 1]

One training step = zero_grad, forward, cross-entropy, backward, SGD (momentum 0.9) update, on
fixed random batches shaped like the run's data (ResNet-18 at batch 32 on 3x32x32, ``cnn`` at
batch 16 on 1x8x8). Variants -- dense, SWAT 90 % with exact masks every step (the default), SWAT
90 % with ``--mask-schedule swat-threshold --mask-every 10`` -- run in alternating rounds in one
process (the machine swings 30-50 %); each round is one block of steps per variant that starts
from freshly reset masks, as a client-round does, so the threshold schedule refreshes once per 10
steps. The ratio is the median over rounds of (SWAT block time / dense block time of the same
round); the PASS/FAIL column judges that wall-time ratio, and the CPU-time ratio (process CPU
seconds, which a core taken by another process inflates less) is printed beside it.

The breakdown of the exact step's extra time comes from two more variants in the same rounds,
so each piece is timed where it runs (inside the step, caches as a step leaves them), not alone:
SWAT at 0 % (the SWAT layers' bookkeeping around a plain conv/linear call, no mask:
"bookkeeping"), SWAT 90 % on the weights only ("weight mask" = its step minus the 0 % step: the
selection and the sparse-weight view) and the exact step ("activation mask" = exact minus
weights only: the selection and the swapped saved input), each the median over rounds of the
same-round difference. The density statistics (two float additions per layer and step, inside
every SWAT step) are timed alone.

``--selection`` instead times the exact k-th-value search alone on the tensors a SWAT step really
selects (every SWAT layer's input and weight, captured in a few training steps): one whole-tensor
introselect against the sampled bracket (``masks._kth_cpu`` with and without ``BRACKET_FROM``),
alternating per tensor, medians per tensor shape (``selection_section``).

``--kernels`` instead times, per weight density, the dense step, the masked-dense SWAT step and the
same step on real CSR kernels (``--sparse-kernels csr``), with their ratios (``kernel_section``).
"""

from __future__ import annotations

import argparse
import copy
import math
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
#: variant -> SparseConfig keyword arguments over weight/activation sparsity 0.9 (None = the dense model)
VARIANTS: dict[str, dict | None] = {
    "dense": None,
    "exact": {"mask_every": 1},
    "swat-threshold/10": {"mask_every": 10, "mask_schedule": "swat-threshold"},
}
#: the breakdown's variants (not judged): SWAT layers with no mask, and with the weight mask only
BREAKDOWN_VARIANTS: dict[str, dict] = {
    "swat 0%": {"weight_sparsity": 0.0, "activation_sparsity": 0.0},
    "weights only": {"activation_sparsity": 0.0},
}


def _sparse_config(kw: dict) -> SparseConfig | None:
    """The variant's config, or None when this version of the code does not know the option."""
    try:
        return SparseConfig(**{"weight_sparsity": 0.9, **kw})
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


def statistics_seconds(model: nn.Module, repeats: int) -> float:
    """Seconds per step of the density statistics alone: one ``DensityStats.add`` per SWAT layer."""
    layers = list(swat_layers(model).values())
    return len(layers) * _time(lambda: layers[0].density_stats.add(0.5, 0.5), repeats)


def run_case(case: Case, threads: list[int], rounds: int, bd_repeats: int, device: torch.device) -> list[str]:
    """Time one case at every thread count; returns the printed lines."""
    torch.manual_seed(0)
    dense = build_model(case.model, num_classes=10, input_shape=case.shape).to(device)
    models: dict[str, nn.Module] = {}
    for name, kw in {**VARIANTS, **BREAKDOWN_VARIANTS}.items():
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
            if n == "dense" or n in BREAKDOWN_VARIANTS:
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
        if all(n in models for n in BREAKDOWN_VARIANTS):
            def extra(a: str, b: str) -> float:
                """ms/step of variant a over variant b: the median of the same-round differences."""
                return 1e3 * statistics.median(x - y for x, y in zip(times[a], times[b])) / case.steps

            stats_ms = 1e3 * statistics_seconds(models["exact"], bd_repeats)
            emit(f"  breakdown of the exact step's extra {extra('exact', 'dense'):.2f} ms/step (same-round medians): "
                 f"bookkeeping {extra('swat 0%', 'dense'):.2f}  weight mask {extra('weights only', 'swat 0%'):.2f}  "
                 f"activation mask {extra('exact', 'weights only'):.2f}  (statistics, timed alone: {stats_ms:.3f})")
    return lines


# ------------------------------------------------------------------ the k-th value search alone
def captured_selections(case: Case, steps: int) -> list[tuple[torch.Tensor, int]]:
    """(tensor, k) of every exact selection in the last of ``steps`` SWAT 90 % training steps (inputs and weights)."""
    from zerofl_profiler.sparse.masks import keep_count

    torch.manual_seed(0)
    model = sparsify(build_model(case.model, num_classes=10, input_shape=case.shape), SparseConfig(0.9))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    got: list[tuple[torch.Tensor, int]] = []

    def grab(layer: nn.Module, args: tuple) -> None:
        for t in (args[0], layer.weight):
            got.append((t.detach().clone(), keep_count(t.numel(), 0.1)))

    for step in range(steps):
        hooks = [m.register_forward_pre_hook(grab) for m in swat_layers(model).values()] if step == steps - 1 else []
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(torch.randn(case.batch, *case.shape, generator=g)),
                        torch.randint(0, 10, (case.batch,), generator=g)).backward()
        opt.step()
        for h in hooks:
            h.remove()
    return got


def selection_section(case: Case, rounds: int) -> list[str]:
    """Whole-tensor introselect vs sampled bracket on one step's real selections: ms per shape and per step."""
    from zerofl_profiler.sparse import masks

    tensors = captured_selections(case, steps=3)
    full: dict[tuple, list[float]] = {}
    bracket: dict[tuple, list[float]] = {}
    for t, k in tensors:
        modes = (("full", 1 << 62), ("bracket", masks.BRACKET_FROM))
        times: dict[str, list[float]] = {"full": [], "bracket": []}
        for r in range(rounds + 1):  # the first round warms up
            for name, bracket_from in modes[r % 2:] + modes[:r % 2]:
                old, masks.BRACKET_FROM = masks.BRACKET_FROM, bracket_from
                try:
                    t0 = time.perf_counter()
                    masks._kth_cpu(t, k)
                    dt = time.perf_counter() - t0
                finally:
                    masks.BRACKET_FROM = old
                if r:
                    times[name].append(dt)
        key = tuple(t.shape)
        full.setdefault(key, []).append(statistics.median(times["full"]))
        bracket.setdefault(key, []).append(statistics.median(times["bracket"]))
    lines = [f"{case.model} b{case.batch}, {torch.get_num_threads()} thread(s): k-th value search per selection of one "
             f"step (inputs and weights, density 0.1), medians of {rounds} alternating calls; per shape: median "
             f"[max] over its layers, ms; bracket from {masks.BRACKET_FROM} entries",
             "| shape | entries | layers | whole-tensor introselect | sampled bracket |", "|---|---:|---:|---:|---:|"]
    for key in sorted(full, key=lambda s: -math.prod(s)):
        f, b = full[key], bracket[key]
        lines.append(f"| {'x'.join(map(str, key))} | {math.prod(key)} | {len(f)} | {1e3 * statistics.median(f):.2f} "
                     f"[{1e3 * max(f):.2f}] | {1e3 * statistics.median(b):.2f} [{1e3 * max(b):.2f}] |")
    lines.append(f"per step: introselect {1e3 * sum(map(sum, full.values())):.1f} ms, "
                 f"as run (bracket from {masks.BRACKET_FROM}) {1e3 * sum(map(sum, bracket.values())):.1f} ms")
    for line in lines:
        print(line, flush=True)
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
    ap.add_argument("--breakdown-repeats", type=int, default=3, help="repeats of the statistics timing")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda; on cuda --threads is ignored")
    ap.add_argument("--kernels", default=None, metavar="D,D,...",
                    help="instead: dense / masked-dense / CSR step per weight density (CPU, first --threads, "
                         "first --cases), e.g. 0.5,0.2,0.1,0.05,0.01")
    ap.add_argument("--selection", action="store_true",
                    help="instead: the exact k-th value search alone, introselect vs sampled bracket (first --threads)")
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
    if args.selection:
        old = torch.get_num_threads()
        try:
            for t in [int(s) for s in args.threads.split(",") if s.strip()]:
                torch.set_num_threads(t)
                for name in [s.strip() for s in args.cases.split(",") if s.strip()]:
                    selection_section(CASES[name], args.rounds)
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
