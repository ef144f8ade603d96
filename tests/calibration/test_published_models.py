"""The networks of DeepLearningExamples' rows: counted forward FLOPs against torch's FlopCounterMode."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from zerofl_profiler.calibration.published.models import PUBLISHED_MODELS
from zerofl_profiler.calibration.published.workloads import count_doc


@pytest.mark.slow
@pytest.mark.parametrize("model,optimizer", [("resnext101-32x4d", "sgd_momentum_wd"),
                                             ("se-resnext101-32x4d", "sgd_momentum_wd"),
                                             ("efficientnet-b0", "rmsprop_momentum_wd"),
                                             ("efficientnet-widese-b4", "rmsprop_momentum_wd")])
def test_forward_flops_match_torch_flop_counter(model: str, optimizer: str) -> None:
    """Our dense forward count of the row's network equals FlopCounterMode's on the same module, and
    every op it runs has a formula."""
    factory, shape = PUBLISHED_MODELS[model]
    net = factory()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        net(torch.zeros(1, *shape))
    doc = count_doc(model, 1, optimizer)
    assert doc["totals"]["dense"]["forward"] == fc.get_total_flops()
    assert doc["uncounted"] == []


@pytest.mark.parametrize("model,groups,se", [("resnext101-32x4d", 33, 0), ("se-resnext101-32x4d", 33, 33)])
def test_resnext_structure_follows_dle(model: str, groups: int, se: int) -> None:
    """DLE's ResNeXt-101 32x4d: 33 bottlenecks, each 3x3 conv in 32 groups of 4 (stage 1) to 32 (stage 4)
    channels; the SE variant adds a 16-unit squeeze-and-excitation per bottleneck."""
    net = PUBLISHED_MODELS[model][0]()
    grouped = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert len(grouped) == groups and {m.groups for m in grouped} == {32}
    assert sorted({m.in_channels // m.groups for m in grouped}) == [4, 8, 16, 32]
    squeezes = [m for m in net.modules() if isinstance(m, nn.Linear) and m.out_features == 16]
    assert len(squeezes) == se
    assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == 1 + 33 * 3 + 4


@pytest.mark.parametrize("model,params", [("efficientnet-b0", 5288548), ("efficientnet-b4", 19341616)])
def test_efficientnet_scaling_follows_dle(model: str, params: int) -> None:
    """DLE's B0 table and its ``scale(wc=1.4, dc=1.8)``: 16 and 32 MBConv blocks, head 1280 and 1792 wide,
    stochastic depth on each of B4's 25 shape-keeping blocks (every stage's first block changes the
    width). The parameter counts are those of DLE's own ``EfficientNet`` modules built from the
    DeepLearningExamples clone at 729963d (once, when this was written; the clone is not a test
    dependency), 5.3M and 19M as rounded in the EfficientNet paper."""
    net = PUBLISHED_MODELS[model][0]()
    depthwise = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == (16 if model.endswith("b0") else 32)
    assert net[-1].in_features == (1280 if model.endswith("b0") else 1792)
    drops = [m for m in net.modules() if type(m).__name__ == "_StochasticDepth"]
    assert (len(drops) == 0) if model.endswith("b0") else (len(drops) == 32 - 7)
    assert sum(p.numel() for p in net.parameters()) == params
