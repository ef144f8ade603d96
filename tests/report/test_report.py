"""Reports (Markdown, HTML, JSON) against values read independently from the raw run files."""

from __future__ import annotations

import base64
import json
import re

import pytest

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.report import build_report, render
from zerofl_profiler.report.costs import DeviceCost, estimate_costs
from zerofl_profiler.cli.options import CostingSelection


def fake_estimator(run, costing):
    """Hand-made estimates for each requested device: 2 s and 10 J per round sparse, 3x dense."""
    rounds = tuple(sorted({c.round for c in run.clients}))
    n = len(rounds)
    return tuple(DeviceCost(d, rounds, (2.0,) * n, (6.0,) * n, (10.0,) * n, (30.0,) * n) for d in costing.devices)


def test_markdown_side_by_side_values(sweep, raw):
    md = render(build_report(sweep, target_accuracy=0.8), "md")
    header = next(line for line in md.splitlines() if line.startswith("|  |"))
    assert header == "|  | dense | sparse90 | sparse95 |"
    red_row = next(line for line in md.splitlines() if line.startswith("| flop_reduction"))
    cells = [c.strip() for c in red_row.strip("|").split("|")][1:]
    for run, cell in zip(sweep, cells):
        recs = raw.clients(run)
        exp = sum(r["flops"]["dense"]["total"] for r in recs) / sum(r["flops"]["sparse"]["total"] for r in recs)
        assert cell == f"{exp:.2f}x"
    acc_row = next(line for line in md.splitlines() if line.startswith("| final accuracy"))
    assert [c.strip() for c in acc_row.strip("|").split("|")][1:] == [
        f"{raw.rounds(r)[-1]['test_accuracy'] * 100:.1f}%" for r in sweep]
    assert "measured (rapl, counter)" in md
    assert md.count("costliest layers") == 3
    assert "pass `--device NAME`" in md


def test_device_estimates_table(sweep):
    rep = build_report(sweep[1:], CostingSelection(devices=("jetson-nano", "h100")), target_accuracy=0.8,
                       estimator=fake_estimator)
    md = render(rep, "md")
    rows = [line for line in md.splitlines() if line.startswith("| jetson-nano (estimated)")]
    assert len(rows) == 2
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1:5] == ["2 s", "6 s", "3.00x", "10 J"]
    # sparse90 reaches 80% in round 5 -> 5 rounds x 2 s, 5 x 10 J
    assert cells[-1] == "10 s / 50 J"


def test_json_report_values(sweep, raw):
    doc = json.loads(render(build_report(sweep, target_accuracy=0.8), "json"))
    assert doc["schema"] == "zerofl-report/1" and len(doc["runs"]) == 3
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
    assert "not drawn (the device comparison needs" in html


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
    doc = est_mod.estimate_run(load_run(sweep[1]), est_mod.resolve_costing(sel)).to_json()
    assert [c.device for c in costs] == [d["device"] for d in doc["devices"]]
    for c, d in zip(costs, doc["devices"]):
        assert list(c.rounds) == [r["round"] for r in d["rounds"]]
        assert list(c.time_s) == pytest.approx([r["time_s"] for r in d["rounds"]])
        assert list(c.energy_j_dense) == pytest.approx([r["dense"]["energy_j"] for r in d["rounds"]])
        assert c.speedup == pytest.approx(d["totals"]["speedup"])
    md = render(rep, "md")
    assert md.count("(estimated) |") == 2
