"""Reports (Markdown, HTML, JSON) against values read independently from the raw run files."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace

import pytest

from zerofl_profiler.analysis.comparison import DeviceCost, EstimateBasis, compare_runs, estimate_costs
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.report import render
from zerofl_profiler.cli.options import CostingSelection

build_report = compare_runs


def fake_estimator(run, costing):
    """Hand-made estimates for each requested device: 2 s and 10 J per round sparse, 3x dense."""
    rounds = tuple(sorted({c.round for c in run.clients}))
    n = len(rounds)
    return tuple(DeviceCost(d, rounds, (2.0,) * n, (6.0,) * n, (10.0,) * n, (30.0,) * n, comm_time_s=(0.5,) * n,
                            comm_energy_j=(4.0,) * n,
                            basis=EstimateBasis(d, "device", "maxn", "gpu", "float32", None, "active_power", "layers",
                                                ("hand-made note",)))
                 for d in costing.devices)


def test_markdown_side_by_side_values(sweep, raw):
    md = render(build_report(sweep, target_accuracy=0.8), "md")
    header = next(line for line in md.splitlines() if line.startswith("|  |"))
    assert header == "|  | dense | sparse90 | sparse95 |"
    red_row = next(line for line in md.splitlines() if line.startswith("| flop_reduction (dense/sparse) (counted)"))
    cells = [c.strip() for c in red_row.strip("|").split("|")][1:]
    for run, cell in zip(sweep, cells):
        recs = raw.clients(run)
        exp = sum(r["flops"]["dense"]["total"] for r in recs) / sum(r["flops"]["sparse"]["total"] for r in recs)
        assert cell == f"{exp:.2f}x"
    acc_row = next(line for line in md.splitlines() if line.startswith("| final accuracy (measured)"))
    assert [c.strip() for c in acc_row.strip("|").split("|")][1:] == [
        f"{raw.rounds(r)[-1]['test_accuracy'] * 100:.1f}%" for r in sweep]
    energy_row = next(line for line in md.splitlines() if line.startswith("| client energy (measured)"))
    assert "(rapl, counter)" in energy_row
    assert md.count("costliest layers") == 3
    assert "pass --device NAME" in md


def test_device_estimates_table(sweep):
    rep = build_report(sweep[1:], CostingSelection(devices=("jetson-nano", "h100")), target_accuracy=0.8,
                       estimator=fake_estimator)
    md = render(rep, "md")
    rows = [line for line in md.splitlines() if line.startswith("| jetson-nano (estimated)")]
    assert len(rows) == 4  # per run: the device table and the assumptions table
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1:6] == ["2 s (transfers not costed)", "6 s", "3.00x", "10 J (transfers not costed)", "30 J"]
    assumed = [c.strip() for c in rows[1].strip("|").split("|")]
    assert assumed[1:] == ["jetson-nano, unit gpu, mode maxn", "float32", "no network: transfers not costed",
                           "estimated by the active_power energy model of jetson-nano", "layers"]
    assert "> note: estimate note: hand-made note" in md
    # side by side: sparse90 reaches 80% in round 5 -> 5 rounds x 2 s, 5 x 10 J
    side = md.split("### sparse90: measured and estimated side by side")[1].split("###")[0]
    head = next(line for line in side.splitlines() if line.startswith("| quantity"))
    assert head.endswith("| estimated on jetson-nano | estimated on h100 |")
    t_row = next(line for line in side.splitlines() if line.startswith("| time to 80%"))
    assert [c.strip() for c in t_row.strip("|").split("|")][-2:] == ["10 s", "10 s"]
    e_row = next(line for line in side.splitlines() if line.startswith("| client energy to 80%"))
    assert [c.strip() for c in e_row.strip("|").split("|")][-2:] == ["50 J", "50 J"]


def test_json_report_values(sweep, raw):
    doc = json.loads(render(build_report(sweep, target_accuracy=0.8), "json"))
    assert doc["schema"] == "zerofl-report/2" and len(doc["runs"]) == 3
    for run, r in zip(sweep, doc["runs"]):
        recs = raw.clients(run)
        assert r["bytes_up_total"] == sum(x["bytes_up"] for x in recs)
        assert r["energy"]["total_j"] == pytest.approx(sum(x["energy"]["total_j"] for x in recs))
        assert r["config"]["sparsity"] == json.loads(json.dumps(r["weight_sparsity"]))
        assert r["target"]["round"] == next(x["round"] for x in raw.rounds(run) if x["test_accuracy"] >= 0.8)


@pytest.mark.slow
def test_html_is_self_contained_with_embedded_figures(sweep):
    html = render(build_report(sweep, target_accuracy=0.8), "html")
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", html)
    assert "<script" not in html and "<link" not in html
    imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    # accuracy, 3 layer breakdowns, uploads, sweep, target (devices needs --device)
    assert len(imgs) == 7
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in imgs)
    assert "the device comparison needs" in html
    assert "speed-up panel left out" in html  # a panel left out is said in the page, not drawn


def test_bad_inputs(tmp_path, sweep):
    with pytest.raises(BadInputError, match="no such run directory"):
        build_report([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="not a run directory"):
        build_report([tmp_path / "empty"])
    with pytest.raises(BadInputError, match="twice"):
        build_report([sweep[0], sweep[0]])
    with pytest.raises(BadInputError, match="unknown report format"):
        render(build_report(sweep[:1]), "pdf")


def test_no_devices_means_no_estimates(sweep):
    assert estimate_costs(None, CostingSelection()) == ()


def test_costs_from_cost_model(sweep):
    import zerofl_profiler.analysis.estimate as est_mod
    from zerofl_profiler.traces import load_run

    sel = CostingSelection(devices=("jetson-nano", "host"))
    rep = build_report(sweep[1:2], sel, target_accuracy=0.8)
    costs = rep.costs[rep.summaries[0].run_id]
    assert costs[0].basis.device == costs[0].device and costs[0].device.startswith("jetson-nano")
    assert costs[0].basis.network is None and costs[0].basis.precision is None  # the fixture has no dtype
    assert costs[0].basis.energy_model in {"active_power", "per_op"}
    doc = est_mod.estimate_run(load_run(sweep[1]), est_mod.resolve_costing(sel)).to_json()
    assert [c.device for c in costs] == [d["device"] for d in doc["devices"]]
    for c, d in zip(costs, doc["devices"]):
        assert list(c.rounds) == [r["round"] for r in d["rounds"]]
        assert list(c.time_s) == pytest.approx([r["time_s"] for r in d["rounds"]])
        assert list(c.energy_j_dense) == pytest.approx([r["dense"]["energy_j"] for r in d["rounds"]])
        assert c.speedup == pytest.approx(d["totals"]["speedup"])
    md = render(rep, "md")
    assert md.count(f"| {costs[0].device} (estimated) |") == 2 and md.count("| host (estimated) |") == 2
    assert "no network: transfers not costed" in md and "unknown (no layers.json dtype)" in md


def test_transfers_are_split_out_where_a_network_was_costed(sweep):
    def with_network(run, costing):
        return tuple(replace(c, network="lte", basis=replace(c.basis, network="lte"))
                     for c in fake_estimator(run, costing))

    rep = build_report(sweep[1:2], CostingSelection(devices=("jetson-nano",), network="lte"), estimator=with_network)
    md = render(rep, "md")
    row = next(line for line in md.splitlines() if line.startswith("| jetson-nano (estimated) | 2 s"))
    assert "2 s (transfers 500 ms)" in row and "10 J (transfers 4 J)" in row
    assert "network lte: download and upload costed" in md and "transfers not costed" not in md


def test_names_and_config_values_are_escaped(tmp_path, factory):
    import tomllib

    import tomli_w

    run = factory.write_run(tmp_path, "evil", 0.9)
    cfg = tomllib.loads((run / "config.toml").read_text())
    cfg["name"] = "a|b *bold* [link](x) <b>tag</b> `code`"
    cfg["model"] = "pkg.mod:make_|net"
    (run / "config.toml").write_text(tomli_w.dumps(cfg))
    rep = build_report([run])
    md = render(rep, "md")
    assert "a\\|b \\*bold\\* \\[link\\](x) \\<b>tag\\</b> \\`code\\`" in md
    assert "<b>" not in md.replace("\\<b>", "")
    header = next(line for line in md.splitlines() if line.startswith("|  |"))
    assert header.count(" | ") == 1  # one run column: the name's pipe did not split the cell
    model = next(line for line in md.splitlines() if line.startswith("| model |"))
    assert model == "| model | pkg.mod:make\\_\\|net |"
    html = render(rep, "html")
    assert "<b>tag</b>" not in html and "&lt;b&gt;tag&lt;/b&gt;" in html
    doc = json.loads(render(rep, "json"))
    assert doc["runs"][0]["name"] == cfg["name"]  # JSON keeps the text as it is


def test_reprs_are_one_line(sweep):
    from zerofl_profiler.traces import load_run

    rep = build_report(sweep, CostingSelection(devices=("jetson-nano",)), estimator=fake_estimator)
    s = rep.summaries[1]
    for obj in (rep, s, rep.costs_of(s)[0], load_run(sweep[1])):
        text = repr(obj)
        assert "\n" not in text and len(text) < 300, text
    assert repr(s).startswith("RunSummary('sparse90'")
    assert load_run(sweep[0]).run_id in repr(rep.summaries[0])


def test_a_device_mix_states_its_members(sweep):
    sel = CostingSelection(devices=("host",), device_mix="jetson-nano=0.5,snapdragon-865-cpu=0.5", network="wifi")
    rep = build_report(sweep[1:2], sel)
    costs = rep.costs[rep.summaries[0].run_id]
    mix = next(c for c in costs if c.basis.kind == "mix")
    assert set(mix.basis.members) == {p for p in mix.basis.members if p.split("@")[0] in ("jetson-nano",
                                                                                          "snapdragon-865-cpu")}
    assert len(mix.basis.members) == 2 and mix.basis.network == "wifi"
    md = render(rep, "md")
    assert f"device mix {mix.device} of {', '.join(mix.basis.members)}" in md
    host = next(c for c in costs if c.basis.kind == "device")
    assert host.basis.unit == "cpu" and "network wifi: download and upload costed" in md
