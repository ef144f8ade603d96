"""A small, self-contained SWAT training job to measure with `zerofl-profile measure`.

    zerofl-profile measure -- python examples/train_step.py --steps 200
    zerofl-profile measure --backend estimate --json -- python examples/train_step.py

It trains the built-in `cnn` with 90 % SWAT sparsity on the shipped digits data for a number of
mini-batch steps and prints the final training loss; nothing is downloaded or written.
"""

from __future__ import annotations

import argparse


def main() -> None:
    import torch

    from zerofl_profiler.fl.data import load_dataset
    from zerofl_profiler.models import build_model
    from zerofl_profiler.sparse import SparseConfig, sparsify

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100, help="mini-batch steps to train")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--sparsity", type=float, default=0.9, help="SWAT weight and activation sparsity")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    train, _ = load_dataset("digits")
    x, y = torch.from_numpy(train.x), torch.from_numpy(train.y)
    model = sparsify(build_model("cnn", 10, tuple(x.shape[1:])), SparseConfig(weight_sparsity=args.sparsity, activation_sparsity=args.sparsity))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    loss = torch.tensor(float("nan"))
    for _ in range(args.steps):
        idx = torch.randint(0, x.shape[0], (args.batch_size,), generator=gen)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    print(f"trained {args.steps} SWAT steps at sparsity {args.sparsity}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
