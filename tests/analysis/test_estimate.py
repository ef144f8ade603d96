"""estimate_run and compare_workload against hand-computed costs on round-number devices."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardware_models"))
from _devfiles import network_dict, write_device  # noqa: E402

from zerofl_profiler.analysis.estimate import Costing, compare_workload, estimate_run, resolve_costing  # noqa: E402
from zerofl_profiler.analysis.workload import from_layers, upload_bytes  # noqa: E402
from zerofl_profiler.traces.layers import LayersDoc  # noqa: E402
from zerofl_profiler.cli.options import CostingSelection  # noqa: E402
from zerofl_profiler.errors import BadInputError, TraceFormatError  # noqa: E402
from zerofl_profiler.hardware_models.spec import load_device_file, parse_network  # noqa: E402
from zerofl_profiler.traces import ClientRoundRecord, JsonlWriter, load_run  # noqa: E402

DENSE_A = {"forward": 10**8, "backward_input": 10**8, "backward_weight": 10**8, "elementwise": 10**7,
           "optimizer": 10**6}
SPARSE_A = {"forward": 10**7, "backward_input": 10**7, "backward_weight": 2 * 10**7, "elementwise": 10**7,
            "optimizer": 10**6}


#: the [trace] table every version-2 run directory has
TRACE_TABLE = '[trace]\nengine = "inprocess"\nupload = "dense"\nencoding = "dense"\nmodel = "cnn"\n'


def _block(d: dict, scale: float = 1.0) -> dict:
    out = {k: int(v * scale) for k, v in d.items()}
    out["total"] = sum(out.values())
    out["topk"] = 0
    return out


def _record(rnd: int, cid: int, scale: float = 1.0, status: str = "ok", steps: int = 1) -> ClientRoundRecord:
    return ClientRoundRecord(
        run_id="r", round=rnd, client_id=cid, samples=32 * steps, steps=steps, batch_sizes=[32] * steps,
        densities={}, flops={"dense": _block(DENSE_A, scale), "sparse": _block(SPARSE_A, scale)},
        bytes_up=1000, bytes_up_dense=2000, bytes_down=4000, wall_time_s=1.0, cpu_time_s=1.0, status=status)


def _run(tmp_path: Path, records: list[ClientRoundRecord], layers: dict | None = None) -> Path:
    d = tmp_path / "run"
    with JsonlWriter(d / "trace.jsonl", fsync=False) as w:
        for r in records:
            w.write(r)
    (d / "config.toml").write_text('run_id = "r"\nseed = 3\n' + TRACE_TABLE, encoding="utf-8")
    if layers is not None:
        (d / "layers.json").write_text(json.dumps(layers), encoding="utf-8")
    return d


def _toy(tmp_path: Path, name: str = "toy", **kw: object):
    return load_device_file(write_device(tmp_path, filename=f"{name}.toml", name=name, **kw)).profile()


def test_totals_basis_by_hand(tmp_path: Path) -> None:
    run = load_run(_run(tmp_path, [_record(0, 0), _record(0, 1, scale=0.5), _record(1, 0),
                                   _record(1, 2, status="failed")]))
    net = parse_network(network_dict())
    est = estimate_run(run, Costing((_toy(tmp_path),), net))
    assert est.basis == "totals" and est.records == 3 and est.skipped_failed == 1
    dense_c = 3e8 / 5e8 + 1.1e7 / 2.5e8  # GEMM phases at 0.5 x 1e9, elementwise+optimizer at 0.25 x 1e9
    sparse_c = 0.2 * (1 - 0.5 * 0.9) * 2 + 0.2 * (1 - 0.5 * 0.8) + 1.1e7 / 2.5e8
    t_down, t_up = 0.25 + 4000 / 4000, 1000 / 1000  # compute < 5 s tail: no second promotion
    r0 = est.devices[0].rounds[0]
    assert r0.clients == 2
    assert r0.cost.compute_s == pytest.approx(sparse_c)
    assert r0.cost.time_s == pytest.approx(t_down + sparse_c + t_up)  # slowest client (the full-size one)
    assert r0.cost.dense_compute_s == pytest.approx(dense_c)
    e_comp = 3.0 * sparse_c + 3.0 * sparse_c * 0.5
    assert r0.cost.compute_energy_j == pytest.approx(e_comp)
    # the half-size client waits (sparse_c / 2) s at 1 W idle
    assert r0.cost.wait_energy_j == pytest.approx(1.0 * sparse_c / 2)
    assert r0.cost.energy_j == pytest.approx(r0.cost.compute_energy_j + r0.cost.comm_energy_j)
    tot = est.devices[0].total
    assert tot.time_s == pytest.approx(2 * (t_down + sparse_c + t_up))
    assert tot.speedup == pytest.approx(tot.dense_time_s / tot.time_s) and tot.speedup > 1
    assert any("failed" in n for n in est.notes)


LAYERS = {"optimizer": "sgd_momentum", "layers": [
    {"name": "fc", "type": "Linear", "op_class": "gemm", "sparsified": True,
     "dense": {"forward": 10**6, "backward_input": 10**6, "backward_weight": 10**6, "update": 0},
     "sparse": {"forward": 10**5, "backward_input": 10**5, "backward_weight": 10**5, "update": 0},
     "bytes": {"dtype_bytes": 4, "weights": 4000, "input": 400, "output": 100,
               "dense": {"forward": {"read": 4400, "written": 100}, "backward_input": {"read": 4100, "written": 400},
                         "backward_weight": {"read": 500, "written": 4000}, "update": {"read": 0, "written": 0}}}},
    {"name": "fc.topk", "type": "topk", "op_class": "topk", "dense": {"forward": 0}, "sparse": {"forward": 1100},
     "bytes": {"sparse": {"forward": {"read": 4400, "written": 138}}}},
    {"name": "<optimizer>", "type": "sgd", "op_class": "optimizer", "dense": {"update": 3000},
     "sparse": {"update": 3000}, "bytes": {"dense": {"update": {"read": 12000, "written": 8000}}}}]}


def test_layers_basis_scales_to_the_clients_work(tmp_path: Path) -> None:
    dev = _toy(tmp_path, peak=1e9, bw=1e6, overhead=1e-3)
    step = from_layers(LayersDoc.from_json(LAYERS))
    assert step.basis == "layers" and len(step.row_names) == 4 and step.topk_flops.tolist() == [1100.0]
    # one step by hand: fwd max(1e6/5e8, 4500/1e6) = 4.5 ms; bi max(2 ms, 4.5 ms); bw max(2 ms, 4.5 ms);
    # optimizer max(3000/2.5e8, 20000/1e6) = 20 ms; 4 kernels x 1 ms
    step_roof = 3 * 4.5e-3 + 20e-3
    layers = dict(LAYERS)
    dense = {"forward": 3 * 10**6, "backward_input": 3 * 10**6, "backward_weight": 3 * 10**6, "elementwise": 0,
             "optimizer": 9000}
    sparse = {**{k: v // 10 for k, v in dense.items()}, "elementwise": 0, "optimizer": 9000}
    rec = ClientRoundRecord(run_id="r", round=0, client_id=0, samples=96, steps=3, batch_sizes=[32] * 3,
                            densities={}, flops={"dense": _block(dense), "sparse": _block(sparse)}, bytes_up=0,
                            bytes_up_dense=0, bytes_down=0, wall_time_s=1.0, cpu_time_s=1.0)
    run = load_run(_run(tmp_path, [rec], layers))
    est = estimate_run(run, Costing((dev,)))
    c = est.devices[0].rounds[0].cost
    assert c.dense_compute_s == pytest.approx(3 * step_roof + 3 * 4 * 1e-3)
    topk = max(1100 / (1e9 * 0.25), 4538 / 1e6) + 1e-3
    sparse_t = 3 * (3 * 4.5e-3 * (1 - 0.5 * 0.9) + 20e-3) + 3 * 4 * 1e-3 + 3 * topk
    assert c.compute_s == pytest.approx(sparse_t)
    assert est.devices[0].fits is True


def test_memory_flag(tmp_path: Path) -> None:
    run = load_run(_run(tmp_path, [_record(0, 0)], LAYERS))
    est = estimate_run(run, Costing((_toy(tmp_path, ram=1000.0),)))
    assert est.devices[0].fits is False
    mem = est.devices[0].memory[0].estimate
    assert mem.total_bytes == 4000 * 3 + 100  # weights + grads + SGD momentum + saved output


def test_mix_sets_round_time_by_the_real_straggler(tmp_path: Path) -> None:
    fast = write_device(tmp_path, filename="fast.toml", name="fast", peak=1e12)
    slow = write_device(tmp_path, filename="slow.toml", name="slow", peak=1e9)
    recs = [_record(r, c) for r in range(3) for c in range(4)]
    run = load_run(_run(tmp_path, recs))
    costing = resolve_costing(CostingSelection((), (str(fast), str(slow)), None, f"{fast}=0.5,{slow}=0.5"))
    est = estimate_run(run, costing)
    by = {d.device: d for d in est.devices}
    mix = [d for d in est.devices if d.kind == "mix"][0]
    assert est.mix["seed"] == 3 and sorted(est.mix["assignment"].values()) == ["fast", "fast", "slow", "slow"]
    # every round has both kinds: the slow device sets the time, energy is the sum over the actual mix
    assert mix.total.time_s == pytest.approx(by["slow"].total.time_s)
    assert mix.total.energy_j == pytest.approx((by["slow"].total.energy_j + by["fast"].total.energy_j) / 2)
    again = estimate_run(run, costing)
    assert again.mix == est.mix
    assert estimate_run(run, costing, seed=11).mix["seed"] == 11


def test_compare_workload_row_exact(tmp_path: Path) -> None:
    dev = _toy(tmp_path, peak=1e9, bw=1e6, overhead=0.0, sparse_eff=1.0)
    res = compare_workload({0.9: LAYERS}, 2, Costing((dev,)), bytes_down=0.0)
    (p,) = res.points
    step_dense = 3 * 4.5e-3 + 20e-3
    # sparse_eff 1: each GEMM row's roofline time x its density 0.1
    step_sparse = 3 * 4.5e-3 * 0.1 + 20e-3 + max(1100 / 2.5e8, 4538 / 1e6)
    assert p.cost.dense_compute_s == pytest.approx(2 * step_dense)
    assert p.cost.compute_s == pytest.approx(2 * step_sparse)
    doc = res.to_json()
    r = doc["devices"][0]["results"][0]
    assert {"time_s", "energy_j", "compute_s", "comm_s", "compute_energy_j", "comm_energy_j"} <= set(r)


def test_upload_bytes_closed_form() -> None:
    tensors = {"fc.weight": (1000, 4), "fc.bias": (10, 4)}
    assert upload_bytes(tensors, {"fc.weight"}, sparsity=0.9) == 1010 * 4
    # keep 1 - 0.9 + 0.1 = 20% -> 200 entries as CSR (value + int32 index) + dense bias
    assert upload_bytes(tensors, {"fc.weight"}, sparsity=0.9, upload="topk-weights", mask_ratio=0.1) == \
        200 * 8 + 40
    with pytest.raises(BadInputError):
        upload_bytes(tensors, set(), sparsity=0.9, mask_ratio=0.1)


def test_nothing_to_cost_on_and_version_mismatch(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="nothing to cost on"):
        resolve_costing(CostingSelection())
    d = _run(tmp_path, [_record(0, 0)])
    line = json.loads((d / "trace.jsonl").read_text().splitlines()[0])
    line["schema_version"] = 99
    (d / "trace.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(TraceFormatError, match="schema version"):
        load_run(d)


def test_vectorised_equals_per_record(tmp_path: Path) -> None:
    """Pricing records together gives the same numbers as one at a time (no cross-talk)."""
    recs = [_record(0, c, scale=0.2 + 0.1 * c) for c in range(5)]
    dev = _toy(tmp_path)
    together = estimate_run(load_run(_run(tmp_path / "a", recs, LAYERS)), Costing((dev,)))
    singles = [estimate_run(load_run(_run(tmp_path / f"s{i}", [r], LAYERS)), Costing((dev,))) for i, r in
               enumerate(recs)]
    e_sum = sum(s.devices[0].total.energy_j for s in singles)
    t_max = max(s.devices[0].total.time_s for s in singles)
    assert together.devices[0].total.energy_j == pytest.approx(e_sum)
    assert together.devices[0].total.time_s == pytest.approx(t_max)
    assert np.isfinite(together.devices[0].total.speedup)


def test_topk_kept_and_new_classes_use_their_own_efficiency(tmp_path: Path) -> None:
    """A topk_kept row is priced at its own efficiency; pool rows at theirs (hand numbers)."""
    src = '{kind = "assumption", ref = "t", quote = "t"}'
    extra = (f"topk = {{value = 0.001, source = {src}}}\ntopk_kept = {{value = 0.004, source = {src}}}\n"
             f"pool = {{value = 0.002, source = {src}}}\n")
    path = write_device(tmp_path, peak=1e9, bw=1e12, overhead=0.0, extra_unit=extra)
    from zerofl_profiler.hardware_models.pricing import topk_step_time
    from zerofl_profiler.hardware_models.cost import DeviceArrays

    dev = DeviceArrays.of([load_device_file(path).profile()])
    doc = {"layers": [
        dict(LAYERS["layers"][1], sparse={"forward": 2000}, bytes={"sparse": {"forward": {"read": 8, "written": 1}}}),
        {"name": "fc.kept", "type": "topk_kept", "op_class": "topk_kept", "dense": {"forward": 0},
         "sparse": {"forward": 400}, "bytes": {"sparse": {"forward": {"read": 8, "written": 1}}}},
        {"name": "pool", "type": "MaxPool2d", "op_class": "pool", "dense": {"forward": 1000},
         "sparse": {"forward": 1000}, "bytes": {"dense": {"forward": {"read": 8, "written": 1}}}}]}
    step = from_layers(LayersDoc.from_json(doc))
    # 2000 comparisons at 1e9 x 0.001 = 2 ms; 400 kept entries at 1e9 x 0.004 = 0.1 ms
    assert topk_step_time(step, dev)[0] == pytest.approx(2e-3 + 0.1e-3)
    assert step.row_phase.tolist() == [3]  # the pool row is trace phase "elementwise"
    from zerofl_profiler.hardware_models.cost import class_index, roofline
    assert step.row_class.tolist() == [class_index("pool")]
    assert roofline(step.flops_dense, step.nbytes, step.row_class, dev)[0, 0] == pytest.approx(1000 / 2e6)


def test_compare_mix_follows_the_estimate_rule(tmp_path: Path) -> None:
    """compare's mix round: clients assigned devices (exact quotas), time = slowest, energy = sum."""
    fast = _toy(tmp_path, "fast", peak=1e10)
    slow = _toy(tmp_path, "slow", peak=1e9)
    from zerofl_profiler.hardware_models.population import DeviceMix

    mix = DeviceMix("fast=0.7,slow=0.3", (fast, slow), (0.7, 0.3))
    res = compare_workload({0.9: LAYERS}, 3, Costing((fast, slow), None, mix), bytes_down=1e3,
                           bytes_up={0.9: 500.0}, clients=10, seed=5)
    by = {p.device: p.cost for p in res.points}
    m = by[mix.name]
    assert res.clients == 10 and res.mix is not None and "slowest" in res.mix["rule"]
    assert sorted(res.mix["assignment"].values()).count("slow") == 3
    # device rows are rounds of 10 clients all on that device: same time, 10 x the energy
    assert m.time_s == pytest.approx(by["slow"].time_s)
    assert m.energy_j == pytest.approx(0.7 * by["fast"].energy_j + 0.3 * by["slow"].energy_j)
    single = compare_workload({0.9: LAYERS}, 3, Costing((fast,)), bytes_down=1e3, bytes_up={0.9: 500.0})
    assert single.clients == 1 and by["fast"].energy_j == pytest.approx(10 * single.points[0].cost.energy_j)
    assert m.wait_energy_j == pytest.approx(7 * 1.0 * (by["slow"].time_s - by["fast"].time_s))


def test_pricing_in_round_chunks_equals_one_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records priced in chunks of whole rounds (bounded memory) give the same tables as all at once.

    Rounds are written out of order and of unequal sizes, so chunks cut through the file, not
    along it; the mix's per-client assignment follows each record into its chunk.
    """
    import zerofl_profiler.hardware_models.rounds as rounds_mod

    fast = write_device(tmp_path, filename="fast.toml", name="fast", peak=1e12)
    slow = write_device(tmp_path, filename="slow.toml", name="slow", peak=1e9)
    keys = [(r, c) for r in (3, 0, 4, 1, 2) for c in range(r % 3 + 2)]
    random.Random(0).shuffle(keys)
    recs = [_record(r, c, scale=0.3 + 0.07 * ((r * 5 + c) % 11), steps=1 + (r + c) % 3) for r, c in keys]
    run = load_run(_run(tmp_path, recs, LAYERS))
    costing = resolve_costing(CostingSelection((), (str(fast), str(slow)), None, f"{fast}=0.5,{slow}=0.5"))
    whole = estimate_run(run, costing)
    monkeypatch.setattr(rounds_mod, "PRICE_BATCH_ELEMENTS", 7)  # 3 records a chunk on 2 devices
    assert len(rounds_mod._round_chunks(rounds_mod._Rounds.of(run.columns.round), len(recs), 2)) > 2
    chunked = estimate_run(run, costing)
    assert [d.device for d in chunked.devices] == [d.device for d in whole.devices]
    for a, b in zip(whole.devices, chunked.devices):
        assert (a.round_ids == b.round_ids).all() and (a.round_clients == b.round_clients).all()
        for k in a.round_table:
            np.testing.assert_allclose(b.round_table[k], a.round_table[k], rtol=1e-12, err_msg=k)
        assert tuple(vars(b.total).values()) == pytest.approx(tuple(vars(a.total).values()), rel=1e-12)
    assert chunked.mix == whole.mix
