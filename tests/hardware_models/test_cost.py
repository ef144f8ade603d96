"""The cost equations, checked by hand on small cases, plus ordering and sparsity sanity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _devfiles import network_dict, write_device
from zerofl_profiler.hardware_models import resolve_device
from zerofl_profiler.hardware_models.cost import (
    DeviceArrays,
    class_index,
    comm_cost,
    compute_energy,
    roofline,
    sparse_factor,
)
from zerofl_profiler.hardware_models.population import parse_mix
from zerofl_profiler.hardware_models.spec import load_device_file, parse_network

G, E = class_index("gemm"), class_index("elementwise")


def _toy(tmp_path: Path, **kw: object) -> DeviceArrays:
    return DeviceArrays.of([load_device_file(write_device(tmp_path, **kw)).profile()])


def test_roofline_by_hand(tmp_path: Path) -> None:
    dev = _toy(tmp_path, peak=1e9, bw=2e8, gemm=0.5, elementwise=0.25)
    # row 0: 1e6 FLOP at 0.5e9 FLOP/s = 2 ms vs 1e5 B at 2e8 B/s = 0.5 ms -> compute-bound 2 ms
    # row 1: 1e4 FLOP at 0.25e9 = 40 us vs 1e6 B / 2e8 = 5 ms -> memory-bound 5 ms
    t = roofline(np.array([1e6, 1e4]), np.array([1e5, 1e6]), np.array([G, E]), dev)
    assert t.shape == (1, 2)
    assert t[0, 0] == pytest.approx(2e-3) and t[0, 1] == pytest.approx(5e-3)


def test_sparse_factor_formula() -> None:
    assert sparse_factor(0.1, 0.5) == pytest.approx(1 - 0.5 * 0.9)
    assert sparse_factor(0.1, 0.0) == 1.0  # dense kernels: no gain
    assert sparse_factor(0.1, 1.0) == pytest.approx(0.1)  # ideal: the FLOP ratio
    assert sparse_factor(1.0, 0.7) == 1.0


def test_energy_modes_by_hand(tmp_path: Path) -> None:
    act = _toy(tmp_path, idle=1.0, active=3.0)
    # active_power: idle x t + (active - idle) x t = 3 W x 2 s
    assert compute_energy(np.array([[2.0]]), np.array([1e9]), np.array([1e9]), act)[0, 0] == pytest.approx(6.0)
    per = DeviceArrays.of([load_device_file(write_device(tmp_path, filename="p.toml", energy_mode="per_op",
                                                         idle=1.0)).profile()])
    # per_op: 1 W x 2 s + 1e-9 J/FLOP x 1e9 + 1e-10 J/B x 1e9
    assert compute_energy(np.array([[2.0]]), np.array([1e9]), np.array([1e9]), per)[0, 0] == pytest.approx(3.1)


def test_comm_by_hand_long_compute() -> None:
    net = parse_network(network_dict())
    # compute 10 s >= tail 5 s: two promotions, one full tail after download, one after upload
    c = comm_cost(np.array([8000.0]), np.array([2000.0]), np.array([10.0]), net, idle_w=1.0)
    t_down, t_up = 0.25 + 8000 / 4000, 0.25 + 2000 / 1000
    assert c.time_down_s[0] == pytest.approx(t_down) and c.time_up_s[0] == pytest.approx(t_up)
    e = (8 * (1e-4 * 8000 + 1e-3 * 2000) + 2.0 * (2.0 + 2.0) + 4.0 * 0.25 * 2 + 0.5 * (5.0 + 5.0)
         + 1.0 * (t_down + t_up))
    assert c.energy_j[0] == pytest.approx(e)


def test_comm_short_compute_keeps_radio_in_tail() -> None:
    net = parse_network(network_dict())
    c = comm_cost(np.array([0.0]), np.array([1000.0]), np.array([1.0]), net)
    assert c.time_up_s[0] == pytest.approx(1.0)  # no second promotion
    e = 8 * 1e-3 * 1000 + 2.0 * 1.0 + 4.0 * 0.25 * 1 + 0.5 * (1.0 + 5.0)
    assert c.energy_j[0] == pytest.approx(e)


def test_no_network_is_free() -> None:
    c = comm_cost(np.array([1e9]), np.array([1e9]), np.array([1.0]), None)
    assert c.time_s[0] == 0.0 and c.energy_j[0] == 0.0


def test_h100_faster_than_jetson_nano() -> None:
    dev = DeviceArrays.of([resolve_device("h100"), resolve_device("jetson-nano"), resolve_device("jetson-nano@5W")])
    t = roofline(np.array([5e9, 1e8, 2e9]), np.array([1e8, 5e8, 1e7]), np.array([G, E, G]), dev).sum(axis=1)
    assert t[0] < t[1] < t[2]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(1.0, 1e12), st.floats(0.0, 1e10), st.floats(0.0, 1.0)), min_size=1,
                max_size=8), st.floats(0.0, 1.0))
def test_sparse_never_costs_more_than_dense(rows: list, e: float) -> None:
    f = np.array([r[0] for r in rows])
    b = np.array([r[1] for r in rows])
    d = np.array([r[2] for r in rows])
    dev = DeviceArrays.of([resolve_device("snapdragon-865-cpu")])
    roof = roofline(f, b, np.zeros(len(rows), dtype=int), dev)
    dense = roof.sum()
    sparse = (roof * sparse_factor(d, e)).sum()
    assert sparse <= dense * (1 + 1e-12)
    if e >= 0.01 and (d <= 0.99).any():
        assert sparse < dense


def test_mix_quotas_are_exact_and_seeded() -> None:
    mix = parse_mix("jetson-nano=3,snapdragon-865-cpu=7", resolve_device)
    assert mix.shares == pytest.approx((0.3, 0.7))
    lab = mix.assign(range(10), seed=1)
    assert sorted(np.bincount(lab, minlength=2)) == [3, 7]
    assert (mix.assign(range(10), seed=1) == lab).all()
    assert any((mix.assign(range(10), seed=s) != lab).any() for s in range(2, 6))
    assert set(mix.assignment([5, 1, 5, 9], seed=0)) == {1, 5, 9}


@pytest.mark.parametrize("text", ["", "h100", "h100=0", "h100=x", "h100=1,h100=2", "=1", "nope=1"])
def test_bad_mix(text: str) -> None:
    from zerofl_profiler.errors import BadInputError

    with pytest.raises(BadInputError):
        parse_mix(text, resolve_device)
