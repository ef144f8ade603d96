"""Measured densities, mask refresh period, eval-time masks and unchanged state_dict keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.sparse import collect_densities, keep_count, reset_density_stats, reset_masks
from zerofl_profiler.sparse.layers import to_swat


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        return self.fc(x.flatten(1))


def _step(net: nn.Module, x: torch.Tensor) -> None:
    net.zero_grad()
    net(x).sum().backward()


def test_measured_densities_count_kept_entries():
    torch.manual_seed(0)
    net = Net()
    keys = list(net.state_dict())
    to_swat("conv2", net.conv2, 0.9, 0.8, 1)
    to_swat("fc", net.fc, 0.5, 0.95, 1)
    assert list(net.state_dict()) == keys  # masks are not state
    x = torch.randn(3, 1, 6, 6)
    seen = {"conv2": [], "fc": []}
    hooks = [getattr(net, n).register_forward_hook(lambda m, i, o, n=n: seen[n].append(i[0].detach().clone()))
             for n in seen]
    _step(net, x)
    _step(net, x * 0.01)  # post-ReLU inputs with many exact zeros
    for h in hooks:
        h.remove()
    d = collect_densities(net)
    assert d["conv1"] == {"weight": 1.0, "activation": 1.0}
    assert d["conv2"]["weight"] == pytest.approx(keep_count(net.conv2.weight.numel(), 0.1) / net.conv2.weight.numel())
    assert d["fc"]["weight"] == pytest.approx(keep_count(net.fc.weight.numel(), 0.5) / net.fc.weight.numel())
    # activation density = mean over steps of min(k, nonzeros) / numel, computed independently
    for name, dens in (("conv2", 0.2), ("fc", 0.05)):
        expect = np.mean([min(keep_count(t.numel(), dens), int((t != 0).sum())) / t.numel() for t in seen[name]])
        assert d[name]["activation"] == pytest.approx(expect)
    reset_density_stats(net)
    assert collect_densities(net)["conv2"] == {"weight": pytest.approx(0.1), "activation": pytest.approx(0.2)}


def test_relu_input_sparser_than_topk_reports_its_real_density():
    lin = nn.Linear(100, 3)
    to_swat("l", lin, 0.0, 0.1, 1)  # would keep 90 entries, but only ~half are non-zero
    x = torch.relu(torch.randn(4, 100, generator=torch.Generator().manual_seed(1)))
    lin(x).sum().backward()
    d = lin.density_stats.mean()
    assert d["activation"] == pytest.approx(int((x != 0).sum()) / x.numel())
    assert d["weight"] == 1.0


@pytest.mark.parametrize("every", [1, 3])
def test_mask_refresh_period(every):
    torch.manual_seed(0)
    lin = nn.Linear(20, 10, bias=False)
    to_swat("l", lin, 0.8, 0.0, every)
    opt = torch.optim.SGD(lin.parameters(), lr=5.0)
    masks = []
    for _ in range(4):
        opt.zero_grad()
        out = lin(torch.cat([torch.eye(20), torch.randn(8, 20)]))
        w_used = out[:20].detach().t()  # identity rows: their output is the sparse weight the step ran with
        assert int(torch.count_nonzero(w_used)) == keep_count(lin.weight.numel(), 0.2)
        masks.append(w_used != 0)
        out[20:].pow(2).sum().backward()
        opt.step()
    same = [bool(torch.equal(masks[i], masks[i + 1])) for i in range(3)]
    if every == 3:
        assert same[:2] == [True, True]  # steps 0,1,2 share the mask
    assert not all(same)  # the big lr moves weights enough that a refresh changes the mask


def test_eval_uses_topk_of_current_weights_and_follows_loads():
    torch.manual_seed(0)
    lin = nn.Linear(30, 4)
    to_swat("l", lin, 0.7, 0.7, 5)
    lin.eval()
    x = torch.randn(2, 30)
    w = lin.weight.detach()
    torch.testing.assert_close(lin(x), torch.nn.functional.linear(x, w * (w.abs() >= w.abs().flatten().kthvalue(
        w.numel() - keep_count(w.numel(), 0.3) + 1).values), lin.bias))
    new = {k: torch.randn_like(v) for k, v in lin.state_dict().items()}
    lin.load_state_dict(new)
    w2 = new["weight"]
    ref = torch.nn.functional.linear(x, w2 * (w2.abs() >= w2.abs().flatten().kthvalue(
        w2.numel() - keep_count(w2.numel(), 0.3) + 1).values), new["bias"])
    torch.testing.assert_close(lin(x), ref)
    reset_masks(lin)
    assert lin._state.mask is None and lin._state.w_sp is None and lin._state.eval_w is None


def test_unsupported_layers_are_bad_input():
    with pytest.raises(BadInputError, match="padding"):
        to_swat("c", nn.Conv2d(2, 2, 3, padding="same"), 0.5, 0.5, 1)
    with pytest.raises(BadInputError, match="cannot be sparsified"):
        to_swat("c", nn.Conv1d(2, 2, 3), 0.5, 0.5, 1)
