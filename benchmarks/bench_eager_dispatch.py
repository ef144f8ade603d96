"""Host time per aten op of an eager PyTorch training step on this machine (the prior of the GPU fit).

Why: a GPU row that is host-bound (ShuffleNetV2 on CIFAR at small batches) is priced at
``kernel_overhead_s`` per dispatched aten op; where a device's rows cannot identify that cost
(every row device-bound), the fit keeps a declared prior, and this script measures one. It runs a
training step whose kernels do almost no work (the published ShuffleNetV2 at batch 1 on a 16x16
input, Adadelta on the for-loop path, ``zero_grad(set_to_none=False)``, one thread), counts the
aten ops it dispatches with a ``TorchDispatchMode``, and divides the step's median wall time by
that count. Compute is included, so the figure bounds the per-op dispatch cost of CPU tensors from
above; CUDA adds a kernel launch per op on top of the same dispatcher path. A tight loop of one
in-place add on a one-element tensor gives the bare dispatch floor for comparison.

Usage: python benchmarks/bench_eager_dispatch.py [--rounds 7] [--steps 20]
Prints one line per figure (medians over alternating rounds) and the spread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from zerofl_profiler.calibration.published.models import shufflenet_v2
from zerofl_profiler.flops.capture import count_dispatched


def main() -> None:
    """Alternate the training-step and bare-dispatch timings and print medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = shufflenet_v2().train()
    opt = torch.optim.Adadelta(model.parameters(), foreach=False)
    x = torch.randn(1, 3, 16, 16)
    y = torch.zeros(1, dtype=torch.long)

    def step() -> None:
        opt.zero_grad(set_to_none=False)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    ops = count_dispatched(step)
    t = torch.zeros(1)
    n_add = 20000
    per_op_step: list[float] = []
    per_op_add: list[float] = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        per_op_step.append((time.perf_counter() - t0) / args.steps / ops)
        t0 = time.perf_counter()
        for _ in range(n_add):
            t.add_(1.0)
        per_op_add.append((time.perf_counter() - t0) / n_add)
    print(f"torch {torch.__version__}, 1 thread, {args.rounds} alternating rounds")
    print(f"training step (shufflenet-v2, batch 1, 16x16, adadelta for-loop): {ops} aten ops dispatched per step")
    print(f"  time per dispatched op: median {statistics.median(per_op_step) * 1e6:.2f} us "
          f"[min {min(per_op_step) * 1e6:.2f}, max {max(per_op_step) * 1e6:.2f}]")
    print(f"bare dispatch (add_ on a 1-element tensor): median {statistics.median(per_op_add) * 1e6:.2f} us "
          f"[min {min(per_op_add) * 1e6:.2f}, max {max(per_op_add) * 1e6:.2f}]")


if __name__ == "__main__":
    main()
