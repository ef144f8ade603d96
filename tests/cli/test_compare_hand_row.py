"""`compare` against one row computed by hand from docs/flops.md's counts and docs/devices.md's equations."""

from __future__ import annotations

import json

import pytest

from zerofl_profiler.cli import main

MODEL = """
from torch import nn
def f(num_classes=10, **kw):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))
"""

#: Round numbers so the arithmetic below is checkable on paper. Bandwidth is so high that every row
#: with FLOPs is compute-bound (the byte term is ~1e-12 s, the roofline takes the larger), and there is no per-kernel overhead.
DEVICE = """
schema = 1
name = "toy"
display_name = "toy device for a hand-computed row"
category = "host"
energy_mode = "active_power"
ram_bytes = {value = 1e9, source = "toy"}

[sources.toy]
kind = "assumption"
ref = "test"
quote = "round numbers for a hand computation"

[units.cpu]
peak_flops = {value = 1e9, source = "toy"}
mem_bandwidth_bytes_per_s = {value = 1e15, source = "toy"}
kernel_overhead_s = {value = 0.0, source = "toy"}
sparse_efficiency = {value = 0.0, source = "toy"}
idle_power_w = {value = 1.0, source = "toy"}
active_power_w = {value = 11.0, source = "toy"}

[units.cpu.efficiency]
gemm = {value = 0.5, source = "toy"}
elementwise = {value = 0.5, source = "toy"}
topk = {value = 0.5, source = "toy"}
optimizer = {value = 0.5, source = "toy"}
"""


def test_compare_dense_row_equals_the_hand_computation(tmp_path, capsys):
    (tmp_path / "lin.py").write_text(MODEL)
    (tmp_path / "toy.toml").write_text(DEVICE)
    code = 0
    try:
        main(["compare", "--model", f"{tmp_path / 'lin.py'}:f", "--input-shape", "1,8,8", "--batch-size", "8",
              "--steps", "3", "--sparsity", "0", "--device-file", str(tmp_path / "toy.toml"), "--json"])
    except SystemExit as exc:
        code = exc.code
    cap = capsys.readouterr()
    assert not code, cap.err
    out = cap.out
    (dev,) = json.loads(out)["devices"]
    (row,) = dev["results"]

    B, fan_in, C, params = 8, 64, 10, 64 * 10 + 10
    gemm = 2 * B * fan_in * C          # forward 2*B*in*out; backward_weight the same; no backward_input (first layer)
    bias = B * C                        # bias add forward, and its gradient (a sum over the batch)
    loss = (5 * B * C + 2 * B) + (4 * B * C + B)  # cross entropy forward + backward (docs/flops.md table)
    sgd = 2 * params                    # plain SGD update: p -= lr * g
    flops_step = 2 * gemm + 2 * bias + loss + sgd
    assert flops_step == 22_684
    t_step = flops_step / (1e9 * 0.5)   # roofline, compute-bound: F / (P * eta), eta = 0.5 for every class
    t = 3 * t_step                      # --steps 3
    energy = 1.0 * t + (11.0 - 1.0) * t  # active_power mode: P_idle * t + (P_active - P_idle) * t_busy, t_busy = t

    assert row["sparsity"] == 0.0 and row["comm_s"] == 0.0 and row["comm_energy_j"] == 0.0
    assert row["compute_s"] == pytest.approx(t, rel=1e-9)
    assert row["time_s"] == pytest.approx(t, rel=1e-9)
    assert row["energy_j"] == pytest.approx(energy, rel=1e-9)
    assert row["bytes_up"] == row["bytes_down"] == 4 * params  # dense fp32 upload and download
