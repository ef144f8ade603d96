"""Independent reference: what torch's FlopCounterMode measures on a real forward and backward."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class TorchCounts:
    forward: int
    backward: int
    grouped_overcount: int  # (g - 1) * weight-grad MACs*2 of every grouped conv, from closed form


def torch_counts(model: nn.Module, input_shape: tuple[int, ...], batch: int = 2) -> TorchCounts:
    """Run one real step under FlopCounterMode, forward and backward counted separately."""
    torch.manual_seed(0)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small real passes: extra threads only add contention on a busy 2-core box
    try:
        return _torch_counts(model, input_shape, batch)
    finally:
        torch.set_num_threads(threads)


def _torch_counts(model: nn.Module, input_shape: tuple[int, ...], batch: int) -> TorchCounts:
    over = 0
    outs: dict[nn.Module, tuple[int, ...]] = {}
    hooks = [m.register_forward_hook(lambda mod, i, o: outs.__setitem__(mod, tuple(o.shape)))
             for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    x = torch.randn(batch, *input_shape)
    with FlopCounterMode(display=False) as fwd:
        y = model(x)
    for h in hooks:
        h.remove()
    loss = F.cross_entropy(y, torch.zeros(batch, dtype=torch.long)) if y.dim() == 2 else y.sum()
    with FlopCounterMode(display=False) as bwd:
        loss.backward()
    for m, (n, cout, ho, wo) in outs.items():
        kh, kw = m.kernel_size
        if m.weight.requires_grad:
            over += 2 * n * cout * (m.in_channels // m.groups) * kh * kw * ho * wo * (m.groups - 1)
    return TorchCounts(fwd.get_total_flops(), bwd.get_total_flops(), over)


def gemm_sums(report) -> tuple[int, int]:
    """Our forward and backward (input + weight) GEMM totals."""
    t = report.totals["dense"]
    return t["forward"], t["backward_input"] + t["backward_weight"]
