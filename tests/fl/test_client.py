"""train_client: records over the actual batches, FLOPs against torch's counter, NaN -> failed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from zerofl_profiler.fl.client import train_client
from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.data import load_dataset
from zerofl_profiler.fl.worker import build_dense, state_to_numpy


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """train_client leaves threads to its engine; the engines default to one (cfg.threads)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def setup():
    train, _ = load_dataset("digits")
    client = train.subset(np.arange(45))  # 45 samples: batches 16, 16, 13
    cfg = RunConfig(batch_size=16, local_epochs=2, sparsity=0.9, upload="topk-weights", mask_ratio=0.1)
    state = state_to_numpy(build_dense(cfg, train.input_shape, train.num_classes))
    return cfg, client, state


def test_record_counts_the_actual_batches(setup):
    cfg, client, state = setup
    res = train_client(state, client, cfg, 2, 7, run_id="r")
    rec = res.record
    assert res.ok and rec.status == "ok" and rec.run_id == "r" and rec.client_id == 7 and rec.round == 2
    assert rec.batch_sizes == [16, 16, 13] * 2 and rec.steps == 6 and rec.samples == 45
    assert rec.lr == pytest.approx(cfg.lr_for_round(2))
    assert math.isfinite(res.train_loss) and rec.train_loss == res.train_loss
    assert rec.bytes_down == sum(v.nbytes for v in state.values())
    assert rec.bytes_up_dense == rec.bytes_down
    # topk-weights at 1 - 0.9 + 0.1 = 20 % of conv/linear weights, CSR: value + int32 index
    assert rec.bytes_up < 0.5 * rec.bytes_up_dense
    assert rec.wall_time_s > 0 and rec.cpu_time_s > 0 and rec.energy.source == "none"


def test_dense_forward_flops_match_torch_counter(setup):
    """Dense forward FLOPs summed over the batches == torch FlopCounterMode on those batch sizes."""
    cfg, client, state = setup
    rec = train_client(state, client, cfg, 1, 0).record
    model = build_dense(cfg, client.input_shape, client.num_classes)
    expect = 0
    for bs in rec.batch_sizes:
        with FlopCounterMode(display=False) as fc:
            model(torch.zeros(bs, *client.input_shape))
        expect += fc.get_total_flops()
    assert rec.flops["dense"]["forward"] == expect
    # sparse: SWAT layers at ~10 % weights; the dense first conv keeps it above 10 %
    assert 0.1 * expect <= rec.flops["sparse"]["forward"] < 0.5 * expect
    assert rec.flops["sparse"]["total"] < rec.flops["dense"]["total"]


def test_densities_are_measured_per_layer(setup):
    cfg, client, state = setup
    rec = train_client(state, client, cfg, 1, 0).record
    dens = rec.densities
    dense_first = [n for n, d in dens.items() if d == {"weight": 1.0, "activation": 1.0}]
    assert len(dense_first) == 1  # the first conv only
    for name, d in dens.items():
        if name in dense_first:
            continue
        assert d["weight"] == pytest.approx(0.1, abs=0.01)
        assert 0.0 < d["activation"] <= 0.1 + 0.01


def test_same_inputs_same_result(setup):
    cfg, client, state = setup
    a = train_client(state, client, cfg, 3, 1)
    b = train_client(state, client, cfg, 3, 1)
    assert a.record.densities == b.record.densities and a.train_loss == b.train_loss
    for k in a.upload.encoded:
        for name, arr in a.upload.encoded[k].payload.items():
            np.testing.assert_array_equal(arr, b.upload.encoded[k].payload[name])


def test_nan_loss_is_a_failed_record_not_an_exception(setup):
    cfg, client, state = setup
    bad = {k: v.copy() for k, v in state.items()}
    key = [k for k in bad if k.endswith("bias") and bad[k].dtype == np.float32][-1]
    bad[key][0] = np.nan
    res = train_client(bad, client, cfg, 1, 4)
    assert not res.ok and res.upload is None
    assert res.record.status == "failed" and "NaN" in res.record.error
    assert res.record.bytes_up == 0 and res.record.steps == 0


def test_sparse_gemm_flops_use_the_measured_densities(setup):
    """Sparse forward / backward_weight = per-layer torch counts x measured weight / activation density."""
    cfg, client, state = setup
    rec = train_client(state, client, cfg, 1, 2).record
    model = build_dense(cfg, client.input_shape, client.num_classes)
    root = type(model).__name__
    fwd = bwd_w = 0.0
    for bs in rec.batch_sizes:
        with FlopCounterMode(display=False) as fc:
            model(torch.zeros(bs, *client.input_shape))
        for name, d in rec.densities.items():
            per_layer = sum(fc.get_flop_counts()[f"{root}.{name}"].values())
            fwd += per_layer * d["weight"]
            bwd_w += per_layer * d["activation"]  # grad-weight GEMM has the forward's size
    rounding = len(rec.densities) * rec.steps  # the counter rounds each row to whole FLOPs per step
    assert rec.flops["sparse"]["forward"] == pytest.approx(fwd, abs=rounding)
    assert rec.flops["sparse"]["backward_weight"] == pytest.approx(bwd_w, abs=rounding)
    assert fwd < 0.5 * rec.flops["dense"]["forward"]


@pytest.mark.parametrize("schedule,act_steps", [("fixed-positions", [0, 1, 2, 3, 4, 5]), ("swat-threshold", [0, 3])])
def test_trace_counts_top_k_only_on_selecting_steps(setup, schedule, act_steps):
    """mask_every=3 over 6 steps: weights selected at steps 0 and 3; inputs every step or at 0 and 3."""
    from zerofl_profiler.flops.topk import topk_counts

    cfg, client, state = setup
    cfg = cfg.with_updates(mask_every=3, mask_schedule=schedule)
    rec = train_client(state, client, cfg, 1, 2).record
    model = build_dense(cfg, client.input_shape, client.num_classes)
    dens = 1 - cfg.weight_sparsity
    expect = 0
    for bs_index in act_steps:
        bs = rec.batch_sizes[bs_index]
        seen = {}
        hooks = [m.register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, i[0].numel()))
                 for n, m in model.named_modules() if n in rec.densities and n != "0"]
        model(torch.zeros(bs, *client.input_shape))
        for h in hooks:
            h.remove()
        expect += sum(sum(topk_counts(n, dens)) for n in seen.values())
    for name, m in model.named_modules():
        if name in rec.densities and name != "0":  # the first conv stays dense
            expect += 2 * sum(topk_counts(m.weight.numel(), dens))
    assert rec.flops["sparse"]["topk"] == expect
    assert rec.flops["dense"]["topk"] == 0
