"""Dense vs masked-dense (the SWAT simulation) vs real sparse (CSR) training steps, per density.

    .venv/bin/python benchmarks/bench_sparse_kernels.py [--model cnn --input-shape 1,8,8 --batch-size 16]
        [--densities 0.5,0.2,0.1,0.05,0.01] [--rounds 5] [--steps 5] [--threads 1] [--markdown FILE]

One training step = forward, backward and an SGD update of the whole model (the first conv dense,
as in ZeroFL; weight and activation density equal). The three variants run in alternating rounds
in one process; the table gives median step times and the ratios to dense. Also prints the
host's GEMM-level sparse-efficiency curve that `calibrate` writes into the device file.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def make_step(model_name: str, shape: tuple[int, ...], batch: int, density: float, kernels: str):  # type: ignore[no-untyped-def]
    """A closure running one SGD step of the sparsified model on a fixed random batch."""
    from zerofl_profiler.models import build_model
    from zerofl_profiler.sparse import SparseConfig, sparsify

    torch.manual_seed(0)
    model = build_model(model_name, 10, shape)
    if density < 1.0:
        model = sparsify(model, SparseConfig(weight_sparsity=1.0 - density, kernels=kernels))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def main() -> None:
    from zerofl_profiler.calibration.sparse_curve import measure_csr_curve

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--input-shape", default="1,8,8")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--densities", default="0.5,0.2,0.1,0.05,0.01")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5, help="steps per timing")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--markdown", default=None, help="also write the table to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shape = tuple(int(s) for s in args.input_shape.split(","))
    dens = [float(d) for d in args.densities.split(",")]
    steps = {("dense", 1.0): make_step(args.model, shape, args.batch_size, 1.0, "off")}
    for d in dens:
        steps[("masked", d)] = make_step(args.model, shape, args.batch_size, d, "off")
        steps[("csr", d)] = make_step(args.model, shape, args.batch_size, d, "csr")
    times: dict[tuple[str, float], list[float]] = {k: [] for k in steps}
    for fn in steps.values():
        fn()  # warm-up
    for _ in range(args.rounds):  # alternate every variant within each round
        for key, fn in steps.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                fn()
            times[key].append((time.perf_counter() - t0) / args.steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    dense = med[("dense", 1.0)]
    lines = [f"{args.model} batch {args.batch_size}, input {args.input_shape}, {args.threads} thread(s), torch "
             f"{torch.__version__}; medians of {args.rounds} alternating rounds x {args.steps} steps; "
             f"dense step {dense * 1e3:.3g} ms",
             "", "| density | masked-dense step | CSR step | masked-dense / dense | CSR / dense | CSR / masked-dense |",
             "|---:|---:|---:|---:|---:|---:|"]
    for d in dens:
        m, c = med[("masked", d)], med[("csr", d)]
        lines.append(f"| {d:g} | {m * 1e3:.3g} ms | {c * 1e3:.3g} ms | {m / dense:.2f}x | {c / dense:.2f}x | {c / m:.2f}x |")
    curve = measure_csr_curve(dens, rounds=max(3, args.rounds // 2))
    lines += ["", "GEMM-level curve (what `calibrate` writes as sparse_efficiency_curve): " + curve.quote(),
              "efficiency per density: " + ", ".join(f"{p.density:g}: {p.efficiency:.3g}" for p in curve.points),
              f"break-even density (CSR faster than dense at or below): {curve.break_even_density()}"]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        from zerofl_profiler.traces.atomic import atomic_write

        atomic_write(args.markdown, text + "\n")


if __name__ == "__main__":
    main()
