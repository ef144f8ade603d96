"""The networks of DeepLearningExamples' rows: counted forward FLOPs against torch's FlopCounterMode."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from zerofl_profiler.calibration.published.models import PUBLISHED_MODELS
from zerofl_profiler.calibration.published.workloads import count_doc


@pytest.mark.slow
@pytest.mark.parametrize("model", ["resnext101-32x4d", "se-resnext101-32x4d"])
def test_forward_flops_match_torch_flop_counter(model: str) -> None:
    """Our dense forward count of the row's network equals FlopCounterMode's on the same module."""
    factory, shape = PUBLISHED_MODELS[model]
    net = factory()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        net(torch.zeros(1, *shape))
    doc = count_doc(model, 1, "sgd_momentum_wd")
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
