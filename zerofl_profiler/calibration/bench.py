"""The host micro-benchmarks: what is timed, and the rows (FLOPs, bytes, class) each one prices as.

Raw ops use the counter's conventions in closed form (1 multiply-add = 2 FLOPs; relu/add 1 FLOP
per element; bytes = elements read + written x 4; a top-k mask = the counter's two rows of
``flops.topk``, timed through the real ``sparse.masks.topk_sparsify``, whose counts the density statistics reuse).
Raw ops count zero kernels: the cost model's per-kernel
overhead is what one counted row (a layer in one phase) of a *training step* costs beyond its
roofline (module call, autograd node, several aten launches), so it is fitted on the micro
training steps; a bare aten call's dispatch is far smaller, and raw ops are sized large enough
(>= 256 K elements, >= 256^3 GEMMs) for it not to matter. Micro training steps are small models that are NOT the
built-in ones, at batch sizes (6, 12, 24) and sparsities (0.7, 0.95) that
``benchmarks/fidelity.py`` does not use; their rows come from the FLOP counter through ``analysis.workload.from_layers``, exactly
as `compare` prices a model. A registry maps each benchmark family to its builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..flops.topk import topk_counts
from ..hardware_models.spec import OP_CLASSES
from ..sparse.masks import topk_sparsify
from .cases import BenchCase, single_row
from .steps import NUM_CLASSES, StepSpec, case_from_doc, layers_doc, make_step

E = 4  # float32 bytes
CAL_SPARSITIES = (0.7, 0.95)  # none of fidelity.py's 0.5 and 0.9
TOPK_DENSITIES = (0.3, 0.05, 0.15)  # the calibration densities and one between (none of fidelity's 0.5, 0.1)
#: Weight of a raw-op case in the fit relative to a training micro-step: the cost model prices
#: training steps, so they lead; raw ops anchor what the steps alone cannot separate.
RAW_WEIGHT = 0.25


@dataclass(frozen=True)
class Bench:
    """A callable to time and the case (rows, no time yet) it is priced as."""

    fn: Callable[[], object]
    case: BenchCase


Builder = Callable[[bool, str], list[Bench]]
BENCHMARKS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Add a benchmark family (duplicate names are an error)."""
    def deco(f: Builder) -> Builder:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark family {name!r} registered twice")
        BENCHMARKS[name] = f
        return f
    return deco


def _rand(*shape: int, device: str) -> torch.Tensor:
    return torch.randn(*shape, device=device)


@register("gemm")
def gemm(quick: bool, device: str) -> list[Bench]:
    """torch.mm at several sizes (square and skinny): the GEMM rate and the peak."""
    sizes = [(256, 256, 256), (512, 512, 512)] if quick else [
        (256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (64, 1024, 1024), (1024, 64, 1024),
        (2048, 512, 256)]
    out = []
    for m, k, n in sizes:
        a, b = _rand(m, k, device=device), _rand(k, n, device=device)
        out.append(Bench(lambda a=a, b=b: torch.mm(a, b),
                         single_row(f"mm{m}x{k}x{n}", "gemm", 2 * m * k * n, E * (m * k + k * n + m * n), "gemm",
                                    kernels=0)))
    return out


@register("conv2d")
def conv2d(quick: bool, device: str) -> list[Bench]:
    """F.conv2d forward at a few shapes (batch, channels, size, kernel)."""
    shapes = [(8, 32, 64, 16, 3)] if quick else [(8, 32, 64, 16, 3), (4, 64, 64, 8, 3), (16, 16, 32, 24, 3),
                                                 (8, 64, 128, 8, 1)]
    out = []
    for b, cin, cout, hw, k in shapes:
        x, w = _rand(b, cin, hw, hw, device=device), _rand(cout, cin, k, k, device=device)
        flops = 2 * b * cout * hw * hw * cin * k * k
        nbytes = E * (x.numel() + w.numel() + b * cout * hw * hw)
        out.append(Bench(lambda x=x, w=w, p=k // 2: torch.nn.functional.conv2d(x, w, padding=p),
                         single_row(f"conv{b}x{cin}x{cout}x{hw}k{k}", "conv", flops, nbytes, "gemm", kernels=0)))
    return out


@register("elementwise")
def elementwise(quick: bool, device: str) -> list[Bench]:
    """relu and add on 256 K .. 4 M elements: elementwise throughput."""
    sizes = [2**18, 2**20] if quick else [2**18, 2**20, 2**22]
    out = []
    for n in sizes:
        x, y = _rand(n, device=device), _rand(n, device=device)
        out.append(Bench(lambda x=x: torch.relu(x), single_row(f"relu{n}", "elementwise", n, 2 * E * n, "elementwise", kernels=0)))
        out.append(Bench(lambda x=x, y=y: torch.add(x, y),
                         single_row(f"add{n}", "elementwise", n, 3 * E * n, "elementwise", kernels=0)))
    return out


@register("copy")
def copy(quick: bool, device: str) -> list[Bench]:
    """Tensor copies of 4 MiB .. 64 MiB: the sustained memory bandwidth (read + write)."""
    sizes = [2**20, 2**22] if quick else [2**20, 2**22, 2**24]
    out = []
    for n in sizes:
        src, dst = _rand(n, device=device), torch.empty(n, device=device)
        out.append(Bench(lambda s=src, d=dst: d.copy_(s), single_row(f"copy{n}", "copy", 0, 2 * E * n, "elementwise", kernels=0)))
    return out


@register("topk")
def topk(quick: bool, device: str) -> list[Bench]:
    """One SWAT mask as a SWAT layer runs it: top-k sparsify, then the density count (sparse.stats).

    Priced as the counter prices a mask (flops.topk): a ``topk`` row of n (2 + 2 H(k/n)) expected
    selection comparisons and a ``topk_kept`` row of k kept entries; three densities (none of
    fidelity.py's) at three sizes separate the two rates.
    """
    sizes = [2**16] if quick else [2**16, 2**18, 2**20]
    out = []
    for n in sizes:
        x = _rand(n, device=device)
        for d in TOPK_DENSITIES[:1] if quick else TOPK_DENSITIES:
            comparisons, k = topk_counts(n, d)
            rows = BenchCase(f"topk{n}-d{d:g}", "topk", np.array([float(comparisons), float(k)]),
                             np.array([E * n + -(-n // 8), 9.0 * k]),
                             np.array([OP_CLASSES.index("topk"), OP_CLASSES.index("topk_kept")]), 0.0, 0.0)
            out.append(Bench(lambda x=x, d=d: topk_sparsify(x, d), rows))  # the statistics reuse its counts
    return out


# ----------------------------------------------------------------------------------------------
# micro training steps: small models that are none of the built-ins


def _convnet(c: int, hw: int) -> Callable[[], nn.Module]:
    def f() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * c * (hw // 4) ** 2, NUM_CLASSES))
    return f


def _mlp(d: int, h: int) -> Callable[[], nn.Module]:
    def f() -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                             nn.Linear(h, NUM_CLASSES))
    return f


def _dwsep(c: int, stride: int = 1) -> Callable[[], nn.Module]:
    def f() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU6(),
            nn.Conv2d(c, c, 3, stride=stride, padding=1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU6(),
            nn.Conv2d(c, 2 * c, 1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU6(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * c, NUM_CLASSES))
    return f


def _conv5(c: int, hw: int) -> Callable[[], nn.Module]:
    def f() -> nn.Module:
        s = ((hw // 2) - 4) // 2
        return nn.Sequential(
            nn.Conv2d(1, c, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(c, 2 * c, 5), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * c * s * s, 64), nn.ReLU(), nn.Linear(64, NUM_CLASSES))
    return f


class _ResBlockNet(nn.Module):
    """conv-BN-ReLU stem, one basic residual block, pooled linear head."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, NUM_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = torch.relu(self.bn1(self.conv1(x)))
        return self.head(torch.relu(self.bn2(self.conv2(y)) + x))


def micro_steps(quick: bool) -> list[StepSpec]:
    """The calibration's training-step workloads (batch sizes 6, 12, 24; sparsity 0, 0.7 and 0.95).

    They cover the layer types of on-device CNNs -- 3x3, 5x5 and 1x1 convolutions, depthwise and
    strided depthwise convolutions, a first conv with one or three input channels, BN, ReLU/ReLU6,
    max/average pooling, residual adds, linear layers -- in small models that are none of the
    built-in ones, so fidelity.py measures models the calibration never saw.
    """
    base = [StepSpec("convnet16-b12", _convnet(16, 16), (3, 16, 16), 12),
            StepSpec("mlp256-b24", _mlp(3 * 12 * 12, 256), (3, 12, 12), 24)]
    if not quick:
        # 16x16 inputs keep the working set in cache; 40x40 and 48x48 ones do not
        base += [StepSpec("convnet32-b6", _convnet(32, 24), (3, 24, 24), 6),
                 StepSpec("convnet24-b12", _convnet(24, 40), (3, 40, 40), 12),
                 StepSpec("convnet64-b6", _convnet(64, 16), (3, 16, 16), 6),
                 StepSpec("dwsep32-b12", _dwsep(32), (3, 16, 16), 12),
                 StepSpec("dwsep64-b6", _dwsep(64), (3, 40, 40), 6),
                 StepSpec("dwsep48s2-b12", _dwsep(48, 2), (3, 48, 48), 12),
                 StepSpec("dwsep192s2-b6", _dwsep(192, 2), (3, 8, 8), 6),
                 StepSpec("resblock32-b12", lambda: _ResBlockNet(32), (3, 16, 16), 12),
                 StepSpec("resblock48-b6", lambda: _ResBlockNet(48), (3, 40, 40), 6),
                 StepSpec("resblock128-b6", lambda: _ResBlockNet(128), (3, 16, 16), 6),
                 StepSpec("mlp1024-b12", _mlp(3 * 16 * 16, 1024), (3, 16, 16), 12),
                 StepSpec("conv5x12-b24", _conv5(12, 20), (1, 20, 20), 24),
                 StepSpec("conv5x8-b6", _conv5(8, 48), (1, 48, 48), 6)]
    out = list(base)
    for i, s in enumerate(base if not quick else base[:1]):
        sp = CAL_SPARSITIES[i % len(CAL_SPARSITIES)]  # alternate, so both densities meet every layer type
        out.append(StepSpec(f"{s.name}-s{sp:g}", s.factory, s.input_shape, s.batch_size, sp))
    return out


@register("steps")
def steps(quick: bool, device: str) -> list[Bench]:
    """Micro training steps (dense and SWAT), priced through the FLOP counter's rows."""
    return [Bench(make_step(s, device=device), case_from_doc(s.name, layers_doc(s))) for s in micro_steps(quick)]


def build_all(quick: bool, device: str = "cpu", families: tuple[str, ...] | None = None) -> list[Bench]:
    """Every registered benchmark family's benchmarks (or only ``families``)."""
    from dataclasses import replace

    out: list[Bench] = []
    for name, builder in BENCHMARKS.items():
        if families is None or name in families:
            out.extend(builder(quick, device))
    return [b if b.case.kind in ("step", "sparse_step") else Bench(b.fn, replace(b.case, weight=RAW_WEIGHT))
            for b in out]
