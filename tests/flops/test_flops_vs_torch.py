"""Our GEMM counts against torch's FlopCounterMode on real passes (torch's grouped-conv error accounted for)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from torch_reference import gemm_sums, torch_counts
from zerofl_profiler.flops import count_training_step
from zerofl_profiler.models import MODELS, build_model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_builtin_models_match_torch(name: str) -> None:
    shape = MODELS[name].input_shape
    model = build_model(name, 10, shape)
    ours = count_training_step(model, shape, 2)
    ref = torch_counts(model, shape, 2)
    fwd, bwd = gemm_sums(ours)
    assert fwd == ref.forward
    assert bwd == ref.backward - ref.grouped_overcount
    if name == "mobilenet":
        assert ref.grouped_overcount > 0  # depthwise layers: torch overcounts, we do not
    else:
        assert ref.grouped_overcount == 0


def test_depthwise_shows_torch_overcount_and_ours() -> None:
    """A 64-channel depthwise 3x3: torch's backward/forward is 65, the true ratio is 2."""
    model = nn.Sequential(nn.Conv2d(3, 64, 1), nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False))
    x = torch.randn(2, 3, 8, 8)
    with FlopCounterMode(display=False) as mode:
        model(x).sum().backward()
    counts = mode.get_flop_counts()["Sequential.1"]
    torch_fwd = counts[torch.ops.aten.convolution]
    torch_bwd = counts[torch.ops.aten.convolution_backward]
    row = count_training_step(model, (3, 8, 8), 2).layer("1", "Conv2d")
    ours_fwd, ours_bwd = row.dense["forward"], row.dense["backward_input"] + row.dense["backward_weight"]
    assert torch_fwd == ours_fwd == 2 * 2 * 64 * 1 * 9 * 8 * 8
    assert torch_bwd == 65 * torch_fwd
    assert ours_bwd == 2 * ours_fwd
    print(f"depthwise 3x3, 64 ch: torch backward/forward = {torch_bwd / torch_fwd:.0f}, ours = {ours_bwd / ours_fwd:.0f}")


CONV_CASES = {
    "strided": dict(kernel_size=3, stride=2, padding=1),
    "dilated": dict(kernel_size=3, dilation=2, padding=2),
    "grouped": dict(kernel_size=3, groups=4, padding=1),
    "depthwise": dict(kernel_size=3, groups=8, padding=1),
    "strided_dilated_grouped": dict(kernel_size=3, stride=2, dilation=2, groups=2, padding=0),
    "pointwise_no_bias": dict(kernel_size=1, bias=False),
    "rect_kernel": dict(kernel_size=(1, 3), stride=(2, 1), padding=(0, 1)),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_variants_with_linear_head(case: str) -> None:
    kw = CONV_CASES[case]
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, **kw), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 5))
    ours = count_training_step(model, (3, 11, 11), 3)
    ref = torch_counts(model, (3, 11, 11), 3)
    fwd, bwd = gemm_sums(ours)
    assert (fwd, bwd) == (ref.forward, ref.backward - ref.grouped_overcount)


def test_first_layer_has_no_input_gradient() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    rep = count_training_step(model, (3, 8, 8), 2)
    first, head = rep.layer("0", "Conv2d"), rep.layer("3", "Linear")
    assert first.dense["backward_input"] == 0 and first.dense["backward_weight"] == first.dense["forward"]
    assert head.dense["backward_input"] == head.dense["forward"] == 2 * 2 * 144 * 3
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 2))
    rep = count_training_step(mlp, (3, 2, 2), 4)
    assert rep.layer("1", "Linear").dense["backward_input"] == 0
    assert rep.layer("3", "Linear").dense["backward_input"] == 2 * 4 * 6 * 2
    ref = torch_counts(mlp, (3, 2, 2), 4)
    assert gemm_sums(rep) == (ref.forward, ref.backward)


def test_frozen_layer_has_no_weight_gradient() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(), nn.Linear(16, 2))
    model[2].weight.requires_grad_(False)
    rep = count_training_step(model, (3, 6, 6), 2)
    assert rep.layer("2", "Conv2d").dense["backward_weight"] == 0
    ref = torch_counts(model, (3, 6, 6), 2)
    assert gemm_sums(rep) == (ref.forward, ref.backward)
    # the optimizer only updates trainable parameters
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert rep.layer("<optimizer>").dense["update"] == 2 * trainable


class DataDependent(nn.Module):
    """Uses .item(), which the meta device cannot run: the counter must fall back to a real pass."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        scale = 1.0 if y.mean().item() > 1e9 else 2.0
        return self.fc(y.mean(dim=(2, 3)) * scale)


def test_fallback_to_real_pass_counts_the_same() -> None:
    model = DataDependent()
    rep = count_training_step(model, (3, 6, 6), 2)
    assert rep.method == "real"
    ref = torch_counts(model, (3, 6, 6), 2)
    assert gemm_sums(rep) == (ref.forward, ref.backward)


def test_transposed_grouped_conv() -> None:
    """ConvTranspose2d: forward equals torch; torch's weight-gradient overcount is (g - 1) x forward again."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ConvTranspose2d(8, 4, 3, stride=2, groups=2), nn.Flatten(),
                          nn.Linear(4 * 13 * 13, 3))
    rep = count_training_step(model, (3, 8, 8), 2)
    ref = torch_counts(model, (3, 8, 8), 2)
    row = rep.layer("1", "ConvTranspose2d").dense
    # transposed conv: every input position times the kernel, C_in x C_out/g channel pairs
    assert row["forward"] == 2 * 2 * 6 * 6 * 9 * 8 * 2
    assert row["backward_weight"] == row["backward_input"] == row["forward"]
    fwd, bwd = gemm_sums(rep)
    assert fwd == ref.forward and bwd == ref.backward - (2 - 1) * row["forward"]
