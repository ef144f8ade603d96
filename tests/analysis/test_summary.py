"""Run summaries against values computed independently from the raw JSON files."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from zerofl_profiler.analysis.summary import summarize_run, time_to_target
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.traces import load_run

FLOP_KEYS = ("forward", "backward_input", "backward_weight", "elementwise", "optimizer", "total")


def _helper(stem: str):
    name = f"zerofl_tests_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "report" / f"{stem}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


factory, raw = _helper("runfactory"), _helper("rawtrace")


@pytest.fixture
def runs(tmp_path):
    return factory.write_sweep(tmp_path)


def test_flops_per_client_round_and_reduction_match_raw_means(runs):
    for run in runs:
        s = summarize_run(load_run(run))
        recs = raw.clients(run)
        for k in FLOP_KEYS:
            dense = sum(r["flops"]["dense"][k] for r in recs) / len(recs)
            sparse = sum(r["flops"]["sparse"][k] for r in recs) / len(recs)
            assert getattr(s.flops_dense, k) == pytest.approx(dense, rel=1e-12)
            assert getattr(s.flops_sparse, k) == pytest.approx(sparse, rel=1e-12)
        assert s.flop_reduction == pytest.approx(
            sum(r["flops"]["dense"]["total"] for r in recs) / sum(r["flops"]["sparse"]["total"] for r in recs))


def test_sparse_runs_reduce_flops_by_about_the_density(runs):
    # GEMM phases of sparsified layers scale with density 1 - s; the dense first conv and the
    # elementwise/optimizer rows do not, so the total reduction lies below 1/(1-s) but well above 1.
    dense, s90, s95 = (summarize_run(load_run(r)) for r in runs)
    assert dense.flop_reduction == 1.0
    assert 5 < s90.flop_reduction < 10 < s95.flop_reduction < 20


def test_bytes_and_upload_saving_match_raw(runs):
    for run in runs:
        s = summarize_run(load_run(run))
        recs = raw.clients(run)
        up, dense_up = sum(r["bytes_up"] for r in recs), sum(r["bytes_up_dense"] for r in recs)
        assert s.bytes_up_total == up and s.bytes_up_dense_total == dense_up
        assert s.bytes_up_mean == pytest.approx(up / len(recs))
        assert s.bytes_down_mean == pytest.approx(sum(r["bytes_down"] for r in recs) / len(recs))
        assert s.upload_saving == pytest.approx(1 - up / dense_up)
    assert summarize_run(load_run(runs[0])).upload_saving == 0.0


def test_accuracy_final_best_and_rounds(runs):
    for run in runs:
        s = summarize_run(load_run(run))
        accs = [r["test_accuracy"] for r in raw.rounds(run)]
        assert s.final_accuracy == accs[-1]
        assert s.best_accuracy == max(accs)
        assert s.rounds_completed == len(accs)
        assert [p.test_accuracy for p in s.rounds] == accs


def test_measured_energy_sum_and_source(runs):
    s = summarize_run(load_run(runs[1]))
    recs = raw.clients(runs[1])
    assert s.energy.source == "rapl"
    assert s.energy.total_j == pytest.approx(sum(r["energy"]["total_j"] for r in recs))
    assert s.energy.estimate_total_j == pytest.approx(sum(r["energy_estimate"]["total_j"] for r in recs))
    assert [p.energy_j for p in s.rounds] == pytest.approx(list(raw.energy_per_round(runs[1]).values()))


def test_unmeasured_run_has_no_energy_not_zero(tmp_path):
    s = summarize_run(load_run(factory.write_run(tmp_path, "x", 0.9, measured=False)))
    assert s.energy.source == "none" and s.energy.total_j is None and s.energy.measured_records == 0
    assert all(p.energy_j is None for p in s.rounds)
    assert s.energy.estimate_total_j is not None  # the host estimate stays, labelled as such


def test_failed_client_rounds_are_counted_not_averaged(tmp_path):
    run = factory.write_run(tmp_path, "f", 0.9, failed=((2, 6),))
    all_recs = raw.clients(run, ok_only=False)
    assert any(r["status"] == "failed" for r in all_recs)  # the fixture really holds one
    s = summarize_run(load_run(run))
    ok = raw.clients(run)
    assert s.failed_client_rounds == len(all_recs) - len(ok) >= 1
    assert s.flops_sparse.total == pytest.approx(sum(r["flops"]["sparse"]["total"] for r in ok) / len(ok))


def test_top_layers_ranked_by_sparse_flops(runs):
    rows = raw.layers(runs[2])
    ph = ("forward", "backward_input", "backward_weight")
    expected = sorted(rows, key=lambda r: -sum(r["sparse"][k] for k in ph))[:5]
    s = summarize_run(load_run(runs[2]))
    assert [lc.name for lc in s.top_layers] == [r["name"] for r in expected]
    assert s.top_layers[0].sparse_total == sum(expected[0]["sparse"][k] for k in ph)
    # the first conv is dense, so at 95% it costs more than a sparsified bigger layer's share
    assert s.top_layers[0].name == "conv2"


def test_time_and_energy_to_target_by_hand(runs):
    run = runs[1]
    s = summarize_run(load_run(run), target_accuracy=0.8)
    rr = raw.rounds(run)
    first = next(i for i, r in enumerate(rr) if r["test_accuracy"] >= 0.8)
    assert s.target.round == rr[first]["round"]
    assert s.target.time_s == pytest.approx(sum(r["round_wall_time_s"] for r in rr[: first + 1]))
    e = raw.energy_per_round(run)
    assert s.target.energy_j == pytest.approx(sum(e[r["round"]] for r in rr[: first + 1]))
    never = time_to_target(s, 0.99)
    assert not never.reached and never.time_s is None and never.energy_j is None


def test_sparsity_falls_back_to_layers_json_then_densities(tmp_path):
    import shutil

    # a bare version-1 trace (no config.toml) still reads; a version-2 one keeps its run constants
    # in config.toml, so without it there is nothing typed to read the sparsity from
    run = tmp_path / "cfgless"
    shutil.copytree(Path(__file__).parents[1] / "traces" / "fixtures" / "v1_sparse", run)
    layers = json.loads((run / "layers.json").read_text())
    (run / "config.toml").unlink()
    assert summarize_run(load_run(run)).weight_sparsity == pytest.approx(layers["weight_sparsity"])
    (run / "layers.json").unlink()
    dens = [d["weight"] for r in raw.clients(run) for d in r["densities"].values() if d["weight"] < 1]
    assert summarize_run(load_run(run)).weight_sparsity == pytest.approx(1 - sum(dens) / len(dens))


def test_bad_inputs(tmp_path):
    run = factory.write_run(tmp_path, "r", 0.9)
    with pytest.raises(BadInputError):
        summarize_run(load_run(run), target_accuracy=1.5)
    (run / "trace.jsonl").write_text("")
    with pytest.raises(BadInputError, match="no client-round records"):
        summarize_run(load_run(run))
    other = factory.write_run(tmp_path, "r2", 0.9)
    (other / "layers.json").write_text(json.dumps({"layers": [{"type": "Conv2d"}]}))
    with pytest.raises(BadInputError, match="lacks a name"):
        summarize_run(load_run(other))


def test_rows_of_one_module_add_up_under_its_module_path(tmp_path):
    run = factory.write_run(tmp_path, "dup", 0.9)
    doc = json.loads((run / "layers.json").read_text())
    conv = doc["layers"][1]
    doc["layers"].insert(2, {"name": conv["name"], "type": "bias_add", "op_class": "elementwise",
                             "dense": {"forward": 7, "backward_input": 0, "backward_weight": 7},
                             "sparse": {"forward": 5, "backward_input": 0, "backward_weight": 3}})
    doc["layers"].append({"name": "head.topk", "type": "topk", "op_class": "topk", "dense": {}, "sparse": {}})
    (run / "layers.json").write_text(json.dumps(doc))
    layers = {lc.label: lc for lc in summarize_run(load_run(run)).layers}
    assert list(layers) == list(dict.fromkeys(r["name"] for r in doc["layers"]))  # model order, one per module
    lc = layers[conv["name"]]
    assert lc.type == f"{conv['type']}+bias_add"
    assert lc.dense == (conv["dense"]["forward"] + 7, conv["dense"]["backward_input"], conv["dense"]["backward_weight"] + 7)
    assert lc.sparse == (conv["sparse"]["forward"] + 5, conv["sparse"]["backward_input"],
                         conv["sparse"]["backward_weight"] + 3)
    assert layers["head.topk"].dense_total == 0 and layers["head.topk"].type == ""


def test_flop_keys_beyond_the_schema_are_kept_apart_from_total(tmp_path):
    run = factory.write_run(tmp_path, "topk", 0.9)
    lines = [json.loads(x) for x in (run / "trace.jsonl").read_text().splitlines()]
    for i, rec in enumerate(lines):
        rec["flops"]["sparse"]["topk"] = 1000 * (i + 1)
    (run / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    s = summarize_run(load_run(run))
    n = len(lines)
    assert dict(s.flops_sparse.extra) == {"topk": pytest.approx(1000 * (n + 1) / 2)}
    assert s.flops_sparse.total == pytest.approx(sum(r["flops"]["sparse"]["total"] for r in lines) / n)
