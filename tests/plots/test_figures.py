"""Every figure renders from a small recorded trace and plots exactly the trace's aggregates.

Expected values come from the raw JSON files (tests/report/rawtrace.py) or from hand-made device
estimates, never from the plotting code; plotted values are read back from the figures' artists.
"""

from __future__ import annotations

import re

import pytest
from matplotlib.text import Text

from zerofl_profiler.analysis.comparison import DeviceCost, RunComparison
from zerofl_profiler.analysis.summary import summarize_run
from zerofl_profiler.plots import (FIGURES, accuracy_figure, build_figures, device_comparison_figure,
                                   layer_breakdown_figure, sparsity_sweep_figure, target_figure, upload_figure)
from zerofl_profiler.plots.style import PALETTES, STYLES
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.traces import load_run

SI = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "m": 1e-3, "\u00b5": 1e-6}
BIN = {"": 1.0, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30}
# Okabe & Ito (2008) "Color Universal Design", the eight colours as published (RGB -> hex).
OKABE_ITO = {"#000000", "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"}


def factor_of(label: str, unit: str) -> float:
    """The divisor an axis label's unit implies, e.g. '(kJ)' -> 1000 for unit 'J'."""
    m = re.search(r"\(([A-Za-z\u00b5]*?)" + unit + r"\)", label)
    assert m, f"no unit {unit} in label {label!r}"
    return (BIN if unit == "B" else SI)[m.group(1)]


def by_gid(fig, gid):
    found = [a for a in fig.findobj() if a.get_gid() == gid]
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


def fake_costs(summaries, devices=(("jetson-nano", 3.0), ("h100", 0.002), ("snapdragon-865-gpu", 0.7))):
    """Hand-made estimates: time = k * round index, energy = 5x time; dense = 4x sparse."""
    out = {}
    for j, s in enumerate(summaries):
        cs = []
        for dev, k in devices:
            t = tuple(k * (i + 1) * (j + 1) for i in range(len(s.rounds)))
            cs.append(DeviceCost(dev, tuple(p.round for p in s.rounds), t, tuple(4 * x for x in t),
                                 tuple(5 * x for x in t), tuple(20 * x for x in t)))
        out[s.run_id] = tuple(cs)
    return out


@pytest.fixture
def summaries(sweep):
    return tuple(summarize_run(load_run(r), target_accuracy=0.8) for r in sweep)


def test_accuracy_vs_round_and_measured_energy(sweep, summaries, raw):
    fig = accuracy_figure(summaries)
    for run, s in zip(sweep, summaries):
        acc = [r["test_accuracy"] * 100 for r in raw.rounds(run)]
        line = by_gid(fig, f"accuracy-round:{s.run_id}")
        assert list(line.get_ydata()) == pytest.approx(acc)
        assert list(line.get_xdata()) == [r["round"] for r in raw.rounds(run)]
        e_line = by_gid(fig, f"accuracy-energy:{s.run_id}")
        xlabel = e_line.axes.get_xlabel()
        assert "measured (rapl)" in xlabel
        e = raw.energy_per_round(run)
        cum, tot = [], 0.0
        for r in raw.rounds(run):
            tot += e[r["round"]]
            cum.append(tot)
        assert [x * factor_of(xlabel, "J") for x in e_line.get_xdata()] == pytest.approx(cum)


def test_energy_axis_says_estimated_on_a_named_device_without_a_counter(tmp_path, factory):
    runs = [factory.write_run(tmp_path, n, sp, measured=False) for n, sp in (("a", 0.0), ("b", 0.9))]
    sums = tuple(summarize_run(load_run(r)) for r in runs)
    costs = fake_costs(sums)
    fig = accuracy_figure(sums, costs, energy_device="h100")
    line = by_gid(fig, f"accuracy-energy:{sums[1].run_id}")
    assert "estimated on h100" in line.axes.get_xlabel()
    t = [0.002 * (i + 1) * 2 for i in range(6)]  # hand-made: run j=1, k=0.002, energy = 5x time
    cum = [sum(5 * x for x in t[: i + 1]) for i in range(6)]
    assert [x * factor_of(line.axes.get_xlabel(), "J") for x in line.get_xdata()] == pytest.approx(cum)
    host = accuracy_figure(sums)  # no device: the trace's host estimate, labelled as such
    assert "estimated on host" in by_gid(host, f"accuracy-energy:{sums[0].run_id}").axes.get_xlabel()


def test_energy_panel_left_out_and_said_when_no_energy_exists(tmp_path, factory, capsys):
    run = factory.write_run(tmp_path, "quiet", 0.9, measured=False, estimate=False)
    s = summarize_run(load_run(run))
    notes = []
    fig = accuracy_figure([s], notes=notes)
    assert len(fig.axes) == 1 and fig.axes[0].axison and not fig.axes[0].texts and not fig.texts
    assert not [a for a in fig.findobj() if (a.get_gid() or "").startswith("accuracy-energy")]
    assert len(notes) == 1 and "--device" in notes[0]
    accuracy_figure([s])  # without a notes list the reason goes to stderr
    assert "--device" in capsys.readouterr().err


def test_layer_breakdown_bars_equal_layers_json(sweep, summaries, raw):
    run, s = sweep[2], summaries[2]
    fig = layer_breakdown_figure(s, min_share=0.0)  # every row, however thin
    ax = fig.axes[0]
    f = factor_of(ax.get_xlabel(), "FLOP")
    for row in raw.layers(run):
        left = 0.0
        for ph in ("forward", "backward_input", "backward_weight"):
            for kind in ("dense", "sparse"):
                bar = by_gid(fig, f"layer:{kind}:{ph}:{row['name']}")
                assert bar.get_width() * f == pytest.approx(row[kind][ph])
            assert by_gid(fig, f"layer:sparse:{ph}:{row['name']}").get_x() * f == pytest.approx(left)
            left += row["sparse"][ph]
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert set(names) == {r["name"] for r in raw.layers(run)}


def test_device_comparison_bars_are_mean_per_round(summaries):
    costs = fake_costs(summaries)
    fig = device_comparison_figure(summaries, costs)
    for j, s in enumerate(summaries):
        for dev, k in (("jetson-nano", 3.0), ("h100", 0.002)):
            times = [k * (i + 1) * (j + 1) for i in range(6)]
            bar = by_gid(fig, f"device-time:sparse:{s.run_id}:{dev}")
            f = factor_of(bar.axes.get_ylabel(), "s")
            assert bar.get_height() * f == pytest.approx(sum(times) / 6)
            dense = by_gid(fig, f"device-time:dense:{s.run_id}:{dev}")
            assert dense.get_height() * f == pytest.approx(4 * sum(times) / 6)
            # visible: an unfilled black outline as wide as the sparse bar, standing above it
            assert not dense.get_fill() and dense.get_linewidth() >= 1.0
            assert dense.get_edgecolor()[:3] == (0.0, 0.0, 0.0)
            assert dense.get_width() == pytest.approx(bar.get_width()) and dense.get_x() == pytest.approx(bar.get_x())
            ebar = by_gid(fig, f"device-energy:sparse:{s.run_id}:{dev}")
            assert ebar.get_height() * factor_of(ebar.axes.get_ylabel(), "J") == pytest.approx(5 * sum(times) / 6)
    with pytest.raises(BadInputError):
        device_comparison_figure(summaries, {})


def test_upload_bytes_per_round_and_by_mask_ratio(sweep, summaries, raw):
    fig = upload_figure(summaries)
    for run, s in zip(sweep, summaries):
        line = by_gid(fig, f"upload-round:{s.run_id}")
        f = factor_of(line.axes.get_ylabel(), "B")
        assert [y * f for y in line.get_ydata()] == pytest.approx(list(raw.per_round(run, "bytes_up").values()))
    pts = by_gid(fig, "upload-mask:topk-weights")
    f = factor_of(pts.axes.get_ylabel(), "B")
    expected = {}
    for run in sweep[1:]:
        recs = raw.clients(run)
        import tomllib

        mask = tomllib.loads((run / "config.toml").read_text())["mask_ratio"]
        expected[mask] = sum(r["bytes_up"] for r in recs) / len(recs)
    got = dict(zip(pts.get_xdata(), [y * f for y in pts.get_ydata()]))
    assert got == pytest.approx(expected)


def test_sparsity_sweep_points(sweep, summaries, raw):
    costs = fake_costs(summaries)
    fig = sparsity_sweep_figure(summaries, costs)
    red = by_gid(fig, "sweep-flops")
    assert list(red.get_xdata()) == pytest.approx([0.0, 90.0, 95.0])  # numeric: 90 and 95 sit close
    lo, hi = red.axes.get_xlim()
    labels = [t.get_text() for x, t in zip(red.axes.get_xticks(), red.axes.get_xticklabels())
              if lo <= x <= hi and t.get_text()]
    assert len(labels) >= 3 and all(re.fullmatch(r"-?\d+(\.\d+)?", x) for x in labels), labels
    exp = []
    for run in sweep:
        recs = raw.clients(run)
        exp.append(sum(r["flops"]["dense"]["total"] for r in recs) / sum(r["flops"]["sparse"]["total"] for r in recs))
    assert list(red.get_ydata()) == pytest.approx(exp)
    assert list(by_gid(fig, "sweep-accuracy").get_ydata()) == pytest.approx(
        [raw.rounds(r)[-1]["test_accuracy"] * 100 for r in sweep])
    assert list(by_gid(fig, "sweep-speedup:h100").get_ydata()) == pytest.approx([4.0, 4.0, 4.0])  # dense = 4x


def test_target_bars_measured_and_estimated(sweep, summaries, raw):
    costs = fake_costs(summaries)
    fig = target_figure(summaries, 0.8, costs)
    for j, (run, s) in enumerate(zip(sweep, summaries)):
        rr = raw.rounds(run)
        n = next(i for i, r in enumerate(rr) if r["test_accuracy"] >= 0.8) + 1
        bar = by_gid(fig, f"target-time:measured (rapl):{s.run_id}")
        assert bar.get_height() * factor_of(bar.axes.get_ylabel(), "s") == pytest.approx(
            sum(r["round_wall_time_s"] for r in rr[:n]))
        est = by_gid(fig, f"target-energy:jetson-nano (estimated):{s.run_id}")
        assert est.get_height() * factor_of(est.axes.get_ylabel(), "J") == pytest.approx(
            sum(5 * 3.0 * (i + 1) * (j + 1) for i in range(n)))
    unreached = target_figure(summaries, 0.99, costs)
    assert all("(not reached)" in t.get_text() for t in unreached.axes[0].get_xticklabels())
    assert not unreached.axes[0].texts


@pytest.mark.slow
def test_registry_draws_every_figure_and_explains_skips(summaries):
    drawn = build_figures(RunComparison(summaries, fake_costs(summaries), 0.8))
    assert {stem.split("-")[0] for stem, _ in drawn.figures} == set(FIGURES) and not drawn.skipped
    drawn = build_figures(RunComparison(summaries))
    assert dict(drawn.skipped).keys() == {"devices", "target"}
    assert "--device" in dict(drawn.skipped)["devices"] and "--target-accuracy" in dict(drawn.skipped)["target"]
    notes = dict(drawn.notes)
    assert "speed-up" in notes["sweep"]  # the panel left out is said, not drawn
    assert {n for n, _ in drawn.notes} <= {"sweep", "layers"}  # layers: thin rows left out, said


# ---- style: palette, units, overlap -------------------------------------------------------------
def _all_figures(summaries, style):
    drawn = build_figures(RunComparison(summaries, fake_costs(summaries), 0.8), style)
    assert not drawn.skipped
    return drawn.figures


def test_palette_is_okabe_ito_and_used(summaries):
    assert {c.lower() for c in PALETTES["okabe-ito"]} == OKABE_ITO
    fig = accuracy_figure(summaries)
    import matplotlib.colors as mc

    colours = {mc.to_hex(by_gid(fig, f"accuracy-round:{s.run_id}").get_color()) for s in summaries}
    assert colours <= OKABE_ITO and len(colours) == len(summaries)


def test_every_axis_has_labels_with_units(summaries):
    unitless_ok = {"Round", "Run", "Layer (module path)", "Device (estimated)", "Mask ratio"}
    for stem, fig in _all_figures(summaries, "paper-double"):
        for ax in fig.axes:
            if not ax.axison:
                continue
            for label in (ax.get_xlabel(), ax.get_ylabel()):
                assert label, f"{stem}: an axis has no label"
                assert label in unitless_ok or re.search(r"\(.+\)", label), f"{stem}: no unit in {label!r}"


def drawn_texts(fig, monkeypatch):
    """Texts actually drawn (visible, non-empty, inside the view) with their window extents."""
    seen = []
    orig = Text.draw

    def rec(self, renderer):
        if self.get_visible() and self.get_text().strip():
            seen.append(self)
        return orig(self, renderer)

    with monkeypatch.context() as m:
        m.setattr(Text, "draw", rec)
        fig.canvas.draw()
    r = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(r)) for t in seen]


def overlaps(fig, monkeypatch):
    boxes = drawn_texts(fig, monkeypatch)
    bad = []
    for i, (ta, a) in enumerate(boxes):
        for tb, b in boxes[i + 1:]:
            a2, b2 = a.padded(-0.5), b.padded(-0.5)  # touching edges are fine
            if a2.overlaps(b2):
                bad.append((ta, tb))
    return bad


def clipped(fig, monkeypatch):
    w, h = fig.canvas.get_width_height()
    return [t for t, box in drawn_texts(fig, monkeypatch)
            if box.x0 < -1 or box.y0 < -1 or box.x1 > w + 1 or box.y1 > h + 1]


@pytest.mark.slow
@pytest.mark.parametrize("style", sorted(STYLES))
def test_no_overlapping_or_clipped_labels(summaries, style, monkeypatch):
    for stem, fig in _all_figures(summaries, style):
        assert overlaps(fig, monkeypatch) == [], f"{style}/{stem}"
        assert clipped(fig, monkeypatch) == [], f"{style}/{stem}"


def test_overlap_check_catches_overlap(monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xticks(range(5), ["a-very-long-label"] * 5)
    assert overlaps(fig, monkeypatch)
    ax.set_ylabel("a label far too long for a two-inch figure, so it runs off the canvas")
    assert clipped(fig, monkeypatch)
