"""SWAT scaling, dense-layer choice, measured densities, totals and the top-k rows."""

from __future__ import annotations

import math

import pytest
from torch import nn

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.flops import count_training_step, default_dense_layers, sparsifiable_layers
from zerofl_profiler.flops.records import GEMM_CLASSES
from zerofl_profiler.models import build_model
from zerofl_profiler.traces import FLOP_KEYS, ClientRoundRecord


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    return build_model("resnet18", 10, (3, 32, 32))


def test_layer_selection(resnet: nn.Module) -> None:
    names = sparsifiable_layers(resnet)
    assert names[0] == "conv1" and names[-1] == "linear" and len(names) == 21  # 17 3x3 + 3 shortcut + fc
    assert default_dense_layers(resnet) == ["conv1"]
    mlp = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    assert default_dense_layers(mlp) == ["0"]


def test_swat_ratios(resnet: nn.Module) -> None:
    rep = count_training_step(resnet, (3, 32, 32), 4, weight_sparsity=0.9, activation_sparsity=0.5)
    gemm = [r for r in rep.layers if r.op_class in GEMM_CLASSES]
    assert len(gemm) == 21
    for r in gemm:
        if r.name == "conv1":
            assert not r.sparsified and r.sparse == r.dense
            continue
        assert r.sparsified and (r.weight_density, r.activation_density) == (pytest.approx(0.1), 0.5)
        assert r.sparse["forward"] == round(0.1 * r.dense["forward"])
        assert r.sparse["backward_input"] == round(0.1 * r.dense["backward_input"])
        assert r.sparse["backward_weight"] == round(0.5 * r.dense["backward_weight"])
    for r in rep.layers:
        if r.op_class in ("elementwise", "optimizer"):
            assert r.sparse == r.dense, r.name  # BN, activations, loss, update stay dense


def test_activation_sparsity_defaults_to_weight_sparsity(resnet: nn.Module) -> None:
    rep = count_training_step(resnet, (3, 32, 32), 2, weight_sparsity=0.8)
    assert rep.activation_sparsity == 0.8
    row = rep.layer("layer2.0.conv1", "Conv2d")
    assert row.sparse["backward_weight"] == round(0.2 * row.dense["backward_weight"])


def test_dense_layers_replace_default(resnet: nn.Module) -> None:
    rep = count_training_step(resnet, (3, 32, 32), 2, weight_sparsity=0.9, dense_layers=["linear"])
    assert rep.layer("conv1", "Conv2d").sparsified
    assert not rep.layer("linear", "Linear").sparsified
    assert rep.dense_layers == ("linear",)
    with pytest.raises(BadInputError, match="unknown dense layer"):
        count_training_step(resnet, (3, 32, 32), 2, dense_layers=["nope"])


def test_measured_densities_override(resnet: nn.Module) -> None:
    dens = {"layer1.0.conv1": {"weight": 0.25, "activation": 0.4}}
    rep = count_training_step(resnet, (3, 32, 32), 2, weight_sparsity=0.9, densities=dens)
    row = rep.layer("layer1.0.conv1", "Conv2d")
    assert row.sparse["forward"] == round(0.25 * row.dense["forward"])
    assert row.sparse["backward_weight"] == round(0.4 * row.dense["backward_weight"])
    other = rep.layer("layer1.0.conv2", "Conv2d")
    assert other.sparse["forward"] == round(0.1 * other.dense["forward"])
    with pytest.raises(BadInputError, match="not a Conv2d/Linear"):
        count_training_step(resnet, (3, 32, 32), 2, densities={"bn1": {"weight": 0.5}})
    with pytest.raises(BadInputError):
        count_training_step(resnet, (3, 32, 32), 2, densities={"conv1": {"weight": 1.5}})


def test_zero_sparsity_is_dense_and_has_no_topk(resnet: nn.Module) -> None:
    rep = count_training_step(resnet, (3, 32, 32), 2)
    assert rep.totals["dense"] == rep.totals["sparse"]
    assert rep.flop_reduction == 1.0
    assert not [r for r in rep.layers if r.op_class == "topk"]


def test_totals_and_trace_block(resnet: nn.Module) -> None:
    rep = count_training_step(resnet, (3, 32, 32), 8, weight_sparsity=0.9)
    for kind in ("dense", "sparse"):
        t = rep.totals[kind]
        rows = rep.layers
        gemm = [r for r in rows if r.op_class in GEMM_CLASSES]
        assert t["forward"] == sum(getattr(r, kind)["forward"] for r in gemm)
        assert t["elementwise"] == sum(sum(getattr(r, kind).values()) for r in rows
                                    if r.op_class in ("elementwise", "pool", "norm"))
        assert t["optimizer"] == rep.layer("<optimizer>").dense["update"]
        assert t["total"] == sum(t[k] for k in FLOP_KEYS if k != "total")
    assert rep.totals["dense"]["topk"] == 0
    # per sparsified layer, weight (d = 0.1) and saved input (d = 0.1): expected quickselect comparisons
    # n (2 + 2 H(p)) (Knuth) plus the k kept entries, k = round(0.1 n)
    def mask(n: int) -> float:
        k = math.floor(0.1 * n + 0.5)
        p = k / n
        return n * (2 - 2 * (p * math.log(p) + (1 - p) * math.log(1 - p))) + k

    expected_topk = sum(mask(r.bytes["weights"] // 4) + mask(r.bytes["input"] // 4) for r in rep.layers
                        if r.op_class in GEMM_CLASSES and r.sparsified)
    assert rep.totals["sparse"]["topk"] == pytest.approx(expected_topk, abs=2 * 21)  # rounding: 1 per count
    assert rep.flop_reduction == pytest.approx(rep.totals["dense"]["total"] / rep.totals["sparse"]["total"], 1e-5)
    assert 5 < rep.gemm_flop_reduction < 10  # 90% sparse everywhere but the (small) first conv
    # the block is a valid trace-record FLOP block
    ClientRoundRecord(run_id="r", round=0, client_id=0, samples=8, steps=1, batch_sizes=[8], densities={},
                      flops=rep.trace_flops(), bytes_up=0, bytes_up_dense=0, bytes_down=0, wall_time_s=0.0,
                      cpu_time_s=0.0)


def test_resnet18_closed_form_forward() -> None:
    """CIFAR ResNet-18 forward GEMM MACs per image: 0.556 G (closed form from the layer shapes)."""
    convs = [(3, 64, 3, 32)] + [(64, 64, 3, 32)] * 4 + [(64, 128, 3, 16), (128, 128, 3, 16), (64, 128, 1, 16)] \
        + [(128, 128, 3, 16)] * 2 + [(128, 256, 3, 8), (256, 256, 3, 8), (64 * 2, 256, 1, 8)] \
        + [(256, 256, 3, 8)] * 2 + [(256, 512, 3, 4), (512, 512, 3, 4), (256, 512, 1, 4)] + [(512, 512, 3, 4)] * 2
    macs = sum(cin * cout * k * k * s * s for cin, cout, k, s in convs) + 512 * 10
    rep = count_training_step(build_model("resnet18"), (3, 32, 32), 1)
    assert rep.totals["dense"]["forward"] == 2 * macs
    assert 0.55e9 < macs < 0.56e9


def test_reused_trace_gives_the_same_report(resnet: nn.Module) -> None:
    from zerofl_profiler.flops import count_from_trace, trace_model

    trace = trace_model(resnet, (3, 32, 32), 4)
    a = count_from_trace(trace, weight_sparsity=0.7)
    b = count_training_step(resnet, (3, 32, 32), 4, weight_sparsity=0.7)
    assert a.to_json() == b.to_json()


def test_layers_json_reads_back(resnet: nn.Module, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from zerofl_profiler.traces import read_layers

    doc = count_training_step(resnet, (3, 32, 32), 4, weight_sparsity=0.9).to_json()
    (tmp_path / "layers.json").write_text(json.dumps(doc, allow_nan=False))
    assert read_layers(tmp_path) == doc
