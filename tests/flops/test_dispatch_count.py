"""The dispatched-op count (``launches``): a hand count, a real eager training step, and the layers file."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zerofl_profiler.flops import count_training_step
from zerofl_profiler.flops.capture import count_dispatched
from zerofl_profiler.flops.training import OPTIMIZERS, update_dispatches
from zerofl_profiler.hardware_models.workload import from_layers


def _launches(report) -> dict[str, dict[str, int]]:
    return {f"{r.name}:{r.type}": {p: n for p, n in r.launches.items() if n} for r in report.layers
            if r.launches is not None and any(r.launches.values())}


def test_two_layer_hand_count() -> None:
    """Linear-ReLU-Linear + cross-entropy, plain SGD, counted op by op from the aten decompositions."""
    torch.manual_seed(0)
    rep = count_training_step(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), (4,), 2, optimizer="sgd")
    assert _launches(rep) == {
        "0:Linear": {"forward": 2,  # linear = t(W) + addmm
                     # no input gradient: t + mm (dW), t, sum + view (db), and per parameter the
                     # gradient handed to .grad (detach) and W's t backward (t)
                     "backward_weight": 8},
        "1:ReLU": {"forward": 2, "backward_input": 2},  # relu + detach (saved output); detach + threshold_backward
        "2:Linear": {"forward": 2, "backward_input": 10},  # as layer 0 plus the input gradient (t + mm)
        # log_softmax + its saved output (detach) + nll_loss_forward; backward: the ones_like seed,
        # nll_loss_backward, detach, _log_softmax_backward_data
        "<loss>:cross_entropy": {"forward": 3, "backward_input": 4},
        "<optimizer>:sgd": {"update": 4},  # p.add_(g, alpha=-lr) per parameter tensor
    }


def test_view_only_modules_get_a_row_and_topk_rows_none() -> None:
    rep = count_training_step(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)), (1, 4, 4), 2,
                              weight_sparsity=0.5)
    flat = rep.layer("1")
    assert flat.type == "Flatten" and not any(flat.dense.values()) and sum(flat.launches.values()) > 0
    assert all(r.launches is None for r in rep.layers if r.op_class in ("topk", "topk_kept"))


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, groups=8, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


@pytest.mark.parametrize("grad_reset", ["zero", "none"])
def test_count_matches_a_real_eager_step(grad_reset: str) -> None:
    """Independent reference: a real CPU training step with torch.optim.SGD on the for-loop path
    (momentum, weight decay: no step counter), its ops counted as they are dispatched."""
    torch.manual_seed(0)
    model = _net().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, foreach=False)
    x, y = torch.randn(4, 3, 8, 8), torch.zeros(4, dtype=torch.long)

    def step() -> None:
        opt.zero_grad(set_to_none=grad_reset == "none")
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    step()  # the first step creates the momentum buffers (a clone instead of mul_ + add_)
    real = count_dispatched(step)
    rep = count_training_step(_net(), (3, 8, 8), 4, optimizer="sgd_momentum_wd", grad_reset=grad_reset)
    counted = sum(sum(r.launches.values()) for r in rep.layers if r.launches is not None)
    assert counted == real


def test_update_dispatches_per_tensor() -> None:
    assert update_dispatches("adam", 10) == 80 and update_dispatches("adam", 10, "zero") == 90
    assert update_dispatches("none", 10, "zero") == 0
    assert all(s.ops_per_tensor > 0 for n, s in OPTIMIZERS.items() if n != "none")


def test_adadelta_ops_match_the_installed_for_loop_path() -> None:
    """torch's single-tensor Adadelta dispatches the 11 ops per tensor the table says, plus its
    host-side step counter (a tensor from PyTorch 1.12 on; a Python number in the sources' 1.10)."""
    params = [torch.zeros(3, requires_grad=True), torch.zeros(2, 2, requires_grad=True)]
    opt = torch.optim.Adadelta(params, foreach=False)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    assert count_dispatched(opt.step) == update_dispatches("adadelta", len(params)) + len(params)


def test_layers_document_carries_launches_and_old_documents_fall_back() -> None:
    rep = count_training_step(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), (4,), 2)
    doc = rep.to_json()
    prof = from_layers(doc)
    total = sum(sum(r.launches.values()) for r in rep.layers if r.launches is not None)
    assert prof.row_launches.sum() == total == prof.at_batch(7).row_launches.sum()
    for row in doc["layers"]:
        row.pop("launches", None)
    old = from_layers(doc)
    assert len(old.launches) == 0 and (old.row_launches == old.kernels).all()
    assert old.at_batch(7).launches is not None and (old.at_batch(7).row_launches == old.kernels).all()


def test_rmsprop_ops_match_the_installed_for_loop_path() -> None:
    """torch's single-tensor RMSprop with momentum and weight decay dispatches the 8 ops per tensor the
    table says, plus its host-side step counter (as Adadelta's)."""
    params = [torch.zeros(3, requires_grad=True), torch.zeros(2, 2, requires_grad=True)]
    opt = torch.optim.RMSprop(params, momentum=0.9, weight_decay=1e-5, foreach=False)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    assert count_dispatched(opt.step) == update_dispatches("rmsprop_momentum_wd", len(params)) + len(params)
