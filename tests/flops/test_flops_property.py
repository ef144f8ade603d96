"""Hypothesis: random conv/linear stacks (groups, dilation, stride, padding, bias) against torch."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from torch_reference import gemm_sums, torch_counts
from zerofl_profiler.flops import count_training_step
from zerofl_profiler.flops.records import GEMM_CLASSES


@st.composite
def conv_stacks(draw: st.DrawFn) -> tuple[nn.Module, tuple[int, int, int], int]:
    cin = draw(st.integers(1, 4))
    h = draw(st.integers(5, 12))
    w = draw(st.integers(5, 12))
    shape = (cin, h, w)
    layers: list[nn.Module] = []
    c = cin
    for _ in range(draw(st.integers(1, 3))):
        groups = draw(st.sampled_from([g for g in (1, 2, 3, 4) if c % g == 0]))
        cout = groups * draw(st.integers(1, 4))
        k = draw(st.integers(1, 3))
        stride = draw(st.integers(1, 2))
        dil = draw(st.integers(1, 2))
        pad = draw(st.integers(0, 2))
        eff = dil * (k - 1) + 1
        nh, nw = (h + 2 * pad - eff) // stride + 1, (w + 2 * pad - eff) // stride + 1
        assume(nh >= 1 and nw >= 1)
        layers += [nn.Conv2d(c, cout, k, stride=stride, padding=pad, dilation=dil, groups=groups,
                             bias=draw(st.booleans())), nn.ReLU()]
        c, h, w = cout, nh, nw
    layers.append(nn.Flatten())
    feat = c * h * w
    for _ in range(draw(st.integers(1, 2))):
        out = draw(st.integers(2, 6))
        layers.append(nn.Linear(feat, out, bias=draw(st.booleans())))
        feat = out
    return nn.Sequential(*layers), shape, draw(st.integers(1, 3))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_stacks())
def test_random_stacks_match_torch(case: tuple[nn.Module, tuple[int, int, int], int]) -> None:
    model, shape, batch = case
    ours = count_training_step(model, shape, batch)
    ref = torch_counts(model, shape, batch)
    fwd, bwd = gemm_sums(ours)
    assert fwd == ref.forward
    assert bwd == ref.backward - ref.grouped_overcount
    # the first conv has no input gradient; every conv's weight gradient costs its forward
    convs = [r for r in ours.layers if r.op_class in GEMM_CLASSES and r.type == "Conv2d"]
    assert convs[0].dense["backward_input"] == 0
    assert all(r.dense["backward_weight"] == r.dense["forward"] for r in convs)
