"""RunConfig: validation before any work, TOML round trip, lr schedule, seeded sampling."""

from __future__ import annotations

import math

import pytest

from zerofl_profiler.errors import ConfigError
from zerofl_profiler.config import RunConfig, from_mapping
from zerofl_profiler.fl.sampling import sample_clients


def test_toml_round_trip_keeps_every_option(tmp_path):
    cfg = RunConfig(clients=7, clients_per_round=3, rounds=4, sparsity=0.95, activation_sparsity=0.8,
                    upload="topk-diff", mask_ratio=0.1, encoding="bitmask", partition="iid",
                    dense_layers=("conv1", "fc"), name="x", aggregation="masked-mean")
    p = tmp_path / "c.toml"
    p.write_text(cfg.to_toml_text(run_id="r1", environment={"torch_version": "x"}))
    assert RunConfig.from_toml(p) == cfg
    assert RunConfig.from_toml(p, rounds=9).rounds == 9


@pytest.mark.parametrize("bad,match", [
    ({"bogus": 1}, "unknown config key"),
    ({"sparsity": 1.0}, "sparsity"),
    ({"sparsity": -0.1}, "sparsity"),
    ({"upload": "dense", "mask_ratio": 0.1}, "mask ratio"),
    ({"clients": 3, "clients_per_round": 4}, "exceeds"),
    ({"dataset": "cifar10"}, "needs --data-dir"),
    ({"dataset": "cifar10", "data_dir": "/no/such/path"}, "not found"),
    ({"dataset": "nope"}, "unknown data set"),
    ({"rounds": 0}, "rounds"),
    ({"rounds": "3"}, "wrong type"),
    ({"lr_start": 0.0}, "lr_start"),
    ({"upload": "zip"}, "upload"),
    ({"aggregation": "median"}, "aggregation"),
    ({"alpha": 0}, "alpha"),
])
def test_bad_config_is_a_config_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        from_mapping(bad)


def test_unknown_key_in_file(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('rounds = 2\nlearning_rate = 0.1\n')
    with pytest.raises(ConfigError, match="learning_rate"):
        RunConfig.from_toml(p)
    p.write_text('rounds = [\n')
    with pytest.raises(ConfigError, match="malformed"):
        RunConfig.from_toml(p)


def test_lr_decays_exponentially_per_round():
    cfg = RunConfig(rounds=5, lr_start=0.1, lr_end=0.001)
    lrs = [cfg.lr_for_round(r) for r in range(1, 6)]
    assert lrs[0] == pytest.approx(0.1) and lrs[-1] == pytest.approx(0.001)
    ratios = [lrs[i + 1] / lrs[i] for i in range(4)]
    assert ratios == pytest.approx([0.01 ** 0.25] * 4)
    assert RunConfig(rounds=1).lr_for_round(1) == RunConfig().lr_start


def test_sampling_is_seeded_distinct_and_round_dependent():
    a = sample_clients(3, 1, 100, 10)
    assert a == sample_clients(3, 1, 100, 10)
    assert len(set(a)) == 10 and all(0 <= c < 100 for c in a)
    assert a != sample_clients(3, 2, 100, 10) or a != sample_clients(4, 1, 100, 10)
    counts = [0] * 20
    for r in range(2000):
        for c in sample_clients(0, r, 20, 5):
            counts[c] += 1
    # each client is drawn with probability K/N = 1/4: 500 expected, sd ~19
    assert all(abs(c - 500) < 5 * math.sqrt(2000 * 0.25 * 0.75) for c in counts)
