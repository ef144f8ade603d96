"""Elementwise, loss and optimizer rows, bytes (hand-computed), uncounted ops, registry, errors, speed."""

from __future__ import annotations

import statistics
import time

import pytest
import torch
from torch import nn

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.flops import FORMULAS, count_training_step, register
from zerofl_profiler.models import build_model


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def test_bytes_hand_computed() -> None:
    rep = count_training_step(_mlp(), (4,), 2, weight_sparsity=0.75)
    first = rep.layer("0", "Linear").bytes  # W=12, X=8, Y=6, fp32, dense (first layer), no input grad
    assert (first["weights"], first["input"], first["output"]) == (48, 32, 24)
    assert first["dense"]["forward"] == {"read": 80, "written": 24}
    assert first["dense"]["backward_input"] == {"read": 0, "written": 0}
    assert first["dense"]["backward_weight"] == {"read": 56, "written": 48}
    assert first["sparse"] == first["dense"]
    head = rep.layer("2", "Linear").bytes  # W=6, X=6, Y=4; dw = da = 0.25 -> 2 kept of 6 (round(1.5))
    assert head["dense"]["forward"] == {"read": 48, "written": 16}
    assert head["dense"]["backward_input"] == {"read": 40, "written": 24}
    assert head["dense"]["backward_weight"] == {"read": 40, "written": 24}
    assert head["sparse"]["forward"] == {"read": 2 * 8 + 24, "written": 16}  # CSR weight: value + int32 index
    assert head["sparse"]["backward_input"] == {"read": 16 + 16, "written": 24}
    assert head["sparse"]["backward_weight"] == {"read": 16 + 16, "written": 24}  # CSR saved activation
    assert head["weights_encoded"] == {"dense": 24, "csr": 16, "bitmask": 1 + 8}
    bias = rep.layer("2", "bias_add")
    assert bias.dense["forward"] == 4 and bias.dense["backward_weight"] == 4
    assert bias.bytes["dense"]["forward"] == {"read": (2 + 4) * 4, "written": 16}
    opt = rep.layer("<optimizer>")
    assert opt.dense["update"] == 2 * 23
    assert opt.bytes["dense"]["update"] == {"read": 2 * 23 * 4, "written": 23 * 4}


def test_bytes_follow_dtype() -> None:
    a = count_training_step(_mlp(), (4,), 2, weight_sparsity=0.75)
    b = count_training_step(_mlp(), (4,), 2, weight_sparsity=0.75, dtype="float16")
    assert b.layer("0", "Linear").bytes["dense"]["forward"]["read"] * 2 == a.layer("0", "Linear").bytes["dense"]["forward"]["read"]
    assert b.layer("2", "Linear").bytes["weights_encoded"]["csr"] == 2 * (2 + 4)
    assert a.totals == b.totals  # FLOPs do not depend on the dtype
    with pytest.raises(BadInputError):
        count_training_step(_mlp(), (4,), 2, dtype="float7")


def test_elementwise_formulas() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.ReLU6(), nn.Flatten(), nn.Linear(16, 2, bias=False), nn.GELU())
    rep = count_training_step(model, (3, 4, 4), 2)
    n = 2 * 4 * 4 * 4
    bn = rep.layer("1", "BatchNorm2d").dense
    assert (bn["forward"], bn["backward_input"], bn["backward_weight"]) == (7 * n, 5 * n, 3 * n)
    relu = rep.layer("2", "ReLU").dense
    assert (relu["forward"], relu["backward_input"]) == (n, n)
    pool = rep.layer("3", "MaxPool2d").dense
    assert (pool["forward"], pool["backward_input"]) == (3 * n // 4, n // 4)
    relu6 = rep.layer("4", "ReLU6").dense
    assert relu6["forward"] == 2 * n // 4
    gelu = rep.layer("7", "GELU").dense
    assert (gelu["forward"], gelu["backward_input"]) == (5 * 4, 9 * 4)
    loss = rep.layer("<loss>", "cross_entropy").dense  # logits (2, 2)
    assert (loss["forward"], loss["backward_input"]) == (5 * 4 + 2 * 2, 4 * 4 + 2)
    assert rep.uncounted == []


def test_residual_add_and_functional_relu_are_counted() -> None:
    rep = count_training_step(build_model("resnet18"), (3, 32, 32), 2)
    add = rep.layer("layer1.0", "add")
    assert add.op_class == "elementwise" and add.dense["forward"] == 2 * 64 * 32 * 32
    assert rep.layer("layer1.0", "relu").dense["forward"] == 2 * (2 * 64 * 32 * 32)  # two F.relu per block
    pool = rep.layer("avgpool", "AdaptiveAvgPool2d").dense
    assert pool["forward"] == 2 * 512 * 4 * 4
    assert rep.uncounted == []


@pytest.mark.parametrize("name,per_param", [("sgd", 2), ("sgd_wd", 4), ("sgd_momentum", 4),
                                            ("sgd_momentum_wd", 6), ("adam", 12),
                                            ("rmsprop_momentum_wd", 13), ("none", 0)])
def test_optimizer_variants(name: str, per_param: int) -> None:
    rep = count_training_step(_mlp(), (4,), 2, optimizer=name)
    assert rep.totals["dense"]["optimizer"] == per_param * 23


def test_uncounted_ops_are_listed() -> None:
    class Cum(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cumsum(self.fc(x), dim=1)

    rep = count_training_step(Cum(), (4,), 2)
    assert rep.uncounted == [{"name": "<model>", "op": "cumsum", "count": 1}]
    assert rep.to_json()["uncounted"] == rep.uncounted


def test_registry_rejects_duplicates() -> None:
    with pytest.raises(BadInputError, match="already registered"):
        register("relu")(lambda rec: [])
    with pytest.raises(BadInputError, match="already registered"):
        register("add_")(lambda rec: [])  # the in-place variant shares the name
    assert "convolution" in FORMULAS and "addmm" in FORMULAS


def test_bad_inputs() -> None:
    m = build_model("cnn")
    with pytest.raises(BadInputError, match="does not run on input"):
        count_training_step(m, (3, 8, 8), 2)
    with pytest.raises(BadInputError):
        count_training_step(m, (1, 8, 8), 0)
    with pytest.raises(BadInputError, match=r"\[0, 1\)"):
        count_training_step(m, (1, 8, 8), 2, weight_sparsity=1.0)
    with pytest.raises(BadInputError):
        count_training_step(m, (1, 8, 8), 2, optimizer="rmsprop")
    with pytest.raises(BadInputError, match="classes"):
        count_training_step(m, (1, 8, 8), 2, num_classes=100)
    with pytest.raises(BadInputError):
        count_training_step("resnet18", (3, 32, 32), 2)  # type: ignore[arg-type]


def test_model_state_is_untouched() -> None:
    m = build_model("resnet18").eval()
    before = m.bn1.running_mean.clone()
    count_training_step(m, (3, 32, 32), 2)
    assert not m.training and torch.equal(m.bn1.running_mean, before)


def test_resnet18_step_counts_well_under_a_second() -> None:
    m = build_model("resnet18")
    count_training_step(m, (3, 32, 32), 32)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        count_training_step(m, (3, 32, 32), 32, weight_sparsity=0.9)
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 1.0


def test_parameter_operands_of_elementwise_ops_are_weight_gradients() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3, bias=False)
            self.scale = nn.Parameter(torch.ones(3))
            self.shift = nn.Parameter(torch.zeros(3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x) * self.scale + self.shift

    rep = count_training_step(Scaled(), (4,), 2)
    mul, add = rep.layer("<model>", "mul").dense, rep.layer("<model>", "add").dense
    assert (mul["forward"], mul["backward_input"], mul["backward_weight"]) == (6, 6, 6)
    assert (add["forward"], add["backward_input"], add["backward_weight"]) == (6, 6, 6)
    assert rep.layer("<model>", "mul").bytes["weights"] == 3 * 4


def test_repr_is_one_short_line() -> None:
    from zerofl_profiler.models import build_model

    rep = count_training_step(build_model("cnn", 10, (1, 8, 8)), (1, 8, 8), 32, weight_sparsity=0.9)
    text = repr(rep)
    assert "\n" not in text and len(text) < 300
    assert f"layers={len(rep.layers)}" in text and f"{rep.flop_reduction:.2f}x" in text


def test_addcmul_is_an_add_and_a_multiply() -> None:
    """``torch.addcmul(r, a, s)`` (a fused squeeze-and-excitation residual): 2 FLOPs per element forward,
    1 per operand that needs a gradient backward; a broadcast factor counts per output element."""

    class Fused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            s = self.fc(y.mean([2, 3])).unsqueeze(2).unsqueeze(3)
            return torch.addcmul(x.sum(1, keepdim=True), y, s).flatten(1)

    rep = count_training_step(Fused(), (3, 2, 2), 2)
    n = 2 * 4 * 2 * 2
    row = rep.layer("<model>", "addcmul").dense
    assert (row["forward"], row["backward_input"]) == (2 * n, 2 * n)  # the input x needs no gradient
    assert rep.uncounted == []
