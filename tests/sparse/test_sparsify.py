"""sparsify(): which layers become SWAT, which stay dense, and that training still learns."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.sparse import SparseConfig, SwatConv2d, SwatLinear, collect_densities, sparsify


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.body = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(8 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.stem(x)))
        x = nn.functional.max_pool2d(self.body(x), 2)
        return self.head(x.flatten(1))


def test_default_keeps_first_conv_and_bn_dense():
    m = sparsify(Tiny(), SparseConfig(0.9))
    assert type(m.stem) is nn.Conv2d and type(m.bn) is nn.BatchNorm2d
    assert isinstance(m.body[0], SwatConv2d) and isinstance(m.head, SwatLinear)
    assert m.head.activation_density == pytest.approx(0.1)
    assert m.dense_layers == ["stem"]


def test_configured_dense_layers_and_split_sparsity():
    m = sparsify(Tiny(), SparseConfig(0.8, activation_sparsity=0.5, dense_layers=("head",), mask_every=4))
    assert isinstance(m.stem, SwatConv2d) and type(m.head) is nn.Linear
    assert m.stem.weight_density == pytest.approx(0.2) and m.stem.activation_density == pytest.approx(0.5)
    assert m.stem.mask_every == 4
    with pytest.raises(BadInputError, match="nope"):
        sparsify(Tiny(), SparseConfig(0.5, dense_layers=("nope",)))
    with pytest.raises(BadInputError, match="sparsity"):
        SparseConfig(1.0)


def test_sparse_training_learns_a_separable_task():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: extra threads only add contention under pytest -n 2
    try:
        _learns()
    finally:
        torch.set_num_threads(old)


def _learns() -> None:
    torch.manual_seed(0)
    m = sparsify(Tiny(), SparseConfig(0.7))
    x = torch.randn(96, 1, 8, 8)
    y = (x[:, 0, :4].sum((1, 2)) > 0).long() + (x[:, 0, 4:].sum((1, 2)) > 0).long()
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    m.train()
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y)
        first = first if first is not None else float(loss.detach())
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first
    d = collect_densities(m)
    assert d["stem"] == {"weight": 1.0, "activation": 1.0}
    assert d["body.0"]["weight"] == pytest.approx(0.3, abs=0.01)


def test_a_plain_float_means_weight_sparsity():
    a = sparsify(Tiny(), 0.9)
    b = sparsify(Tiny(), SparseConfig(0.9))
    assert a.sparse_config == b.sparse_config and a.dense_layers == b.dense_layers
    assert isinstance(a.head, SwatLinear) and a.head.weight_density == pytest.approx(b.head.weight_density)
    with pytest.raises(BadInputError):
        sparsify(Tiny(), 1.5)


@pytest.mark.parametrize("bad", ["0.9", {"weight_sparsity": 0.9}, None, True])
def test_anything_else_is_a_type_error_naming_what_to_pass(bad):
    with pytest.raises(TypeError, match=r"0\.9.*SparseConfig"):
        sparsify(Tiny(), bad)
