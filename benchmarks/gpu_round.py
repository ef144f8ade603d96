"""Seconds per client-round of ZeroFL's CIFAR-10 setup on an accelerator: dense vs 90 % SWAT ResNet-18,
and the paper's 700-round runs extrapolated from them (labelled as an extrapolation).

    python benchmarks/gpu_round.py --accelerator cuda [--samples 500] [--repeats 3] [--json]

Standalone (a GPU check script calls it): builds the run's ResNet-18, SWAT-sparsifies it
(`zerofl_profiler.sparse`), moves it to ``--accelerator`` and times one client-round as the paper
runs it -- ``--samples`` CIFAR-shaped images (500 = 50 000 / 100 clients), 1 epoch, batch 16,
SGD with momentum, the crop+flip augmentation on the device -- with a device synchronise before
each clock read. Dense and sparse alternate; repeat 0 is a warm-up. Evaluation of 10 000 test
images (batch 500, sparse model for the sparse variant) is timed the same way. It times the
training steps only (the engine's FLOP counting and upload encoding run on the host; see
bench_round.py for the CPU figure with them). ``--accelerator cpu`` runs the same code on the CPU.
Exit 1 with one line when the accelerator is not there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_round import CIFAR_TEST_IMAGES, TABLE_CELLS, Timings, extrapolate  # noqa: E402


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def client_round(model, state, x, y, batch_size: int, device, seed: int) -> float:
    """Seconds of one client's epoch from the given start weights (shuffle, augment, SGD step per batch)."""
    import torch
    import torch.nn.functional as F

    from zerofl_profiler.fl.augment import AUGMENTATIONS, augment_generator
    from zerofl_profiler.sparse import reset_density_stats, reset_masks

    aug = AUGMENTATIONS["crop4-flip"]
    model.load_state_dict(state)
    reset_masks(model)
    reset_density_stats(model)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    gen = augment_generator(0, seed, 0)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(device)
    _sync(device)
    t0 = time.perf_counter()
    for i in range(0, len(x), batch_size):
        idx = order[i:i + batch_size]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(aug(x[idx], gen)), y[idx])
        loss.backward()
        opt.step()
    _sync(device)
    return time.perf_counter() - t0


def evaluation(model, x, y, batch_size: int, device) -> float:
    """Seconds of one pass over the test images."""
    import torch

    model.eval()
    _sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        correct = 0
        for i in range(0, len(x), batch_size):
            correct += int((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
    _sync(device)
    return time.perf_counter() - t0


def main() -> int:
    import torch

    from zerofl_profiler.models import build_model
    from zerofl_profiler.sparse import SparseConfig, sparsify

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerator", required=True, help="torch device: cuda, cuda:1, cpu, ...")
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--eval-images", type=int, default=CIFAR_TEST_IMAGES)
    ap.add_argument("--eval-every", type=int, default=10, help="evaluation period used in the extrapolation")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads on the host (default 1, as the engine; 0 = torch's default)")
    ap.add_argument("--json", action="store_true", help="also print the medians as one JSON line")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        device = torch.device(args.accelerator)
    except RuntimeError as exc:
        print(f"error: --accelerator {args.accelerator!r}: {exc}", file=sys.stderr)
        return 2
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"error: --accelerator {args.accelerator}: torch sees no CUDA device", file=sys.stderr)
        return 1
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.samples, 3, 32, 32, generator=gen).to(device)
    y = torch.randint(0, 10, (args.samples,), generator=gen).to(device)
    xt = torch.randn(args.eval_images, 3, 32, 32, generator=gen).to(device)
    yt = torch.randint(0, 10, (args.eval_images,), generator=gen).to(device)
    models = {}
    for variant, s in (("dense", 0.0), ("sparse90", 0.9)):
        torch.manual_seed(0)
        m = build_model("resnet18", 10, (3, 32, 32))
        if s > 0:
            m = sparsify(m, SparseConfig(s))
        models[variant] = m.to(device)
    state = {k: v.clone() for k, v in models["dense"].state_dict().items()}
    timings = Timings()
    for rep in range(args.repeats + 1):
        for variant, model in models.items():
            dt = client_round(model, state, x, y, args.batch_size, device, seed=rep)
            de = evaluation(model, xt, yt, 500, device) * CIFAR_TEST_IMAGES / args.eval_images
            timings.add(rep, variant, dt, de)
    med = timings.report(f"ResNet-18 on {name} ({device}), torch {torch.__version__}, {args.samples} images/client, "
                         f"batch {args.batch_size}, 1 epoch, {torch.get_num_threads()} host thread(s); "
                         f"medians of {args.repeats}", args.eval_every,
                         f"training steps only; grid = {TABLE_CELLS} cells")
    if args.json:
        print(json.dumps({"device": name, "torch": torch.__version__, "samples": args.samples,
                          "client_round_s": {v: t for v, (t, _) in med.items()},
                          "eval_10k_s": {v: e for v, (_, e) in med.items()},
                          "run_700_rounds_s": {v: extrapolate(t, e, args.eval_every)["run_s"]
                                               for v, (t, e) in med.items()},
                          "extrapolated": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
