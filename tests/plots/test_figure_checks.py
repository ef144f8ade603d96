"""Checks every figure must pass before it goes into a paper, read back from the artists:
no placeholder text, numeric sparsity axis, one colour per run and per device across all figures of
one call, log axes with three or more labelled ticks, no titles, 3.5 in at most at paper-single,
layer rows named by module path with empty rows hidden, and plots that never import report."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import matplotlib.colors as mc
import pytest
from matplotlib.patches import Rectangle

import zerofl_profiler.plots as plots_pkg
from zerofl_profiler.analysis.comparison import DeviceCost, RunComparison
from zerofl_profiler.analysis.summary import summarize_run
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.plots import (accuracy_figure, build_figures, layer_breakdown_figure, sparsity_sweep_figure,
                                   upload_figure)
from zerofl_profiler.plots.common import log_axis
from zerofl_profiler.plots.style import PALETTES, STYLES
from zerofl_profiler.traces import load_run

DEVICES = (("jetson-nano", 3.0), ("h100", 0.002))


def costs_for(summaries, devices=DEVICES):
    """Hand-made estimates: time = k * round * (run index + 1), energy = 5x time, dense = 4x sparse."""
    out = {}
    for j, s in enumerate(summaries):
        out[s.run_id] = tuple(
            DeviceCost(dev, tuple(p.round for p in s.rounds), t, tuple(4 * x for x in t), tuple(5 * x for x in t),
                       tuple(20 * x for x in t))
            for dev, k in devices for t in [tuple(k * (i + 1) * (j + 1) for i in range(len(s.rounds)))])
    return out


@pytest.fixture
def summaries(sweep):
    return tuple(summarize_run(load_run(r), target_accuracy=0.8) for r in sweep)


def legend_texts(fig):
    return {t for leg in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()] for t in leg.texts}


def free_texts(fig):
    """Texts that are neither tick labels, axis labels nor legend entries: placeholders, notes, titles."""
    fig.canvas.draw()
    allowed = set(legend_texts(fig))
    for ax in fig.axes:
        allowed |= {ax.xaxis.label, ax.yaxis.label}
        allowed |= set(ax.get_xticklabels()) | set(ax.get_yticklabels())
        allowed |= {ax.xaxis.get_offset_text(), ax.yaxis.get_offset_text()}
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t not in allowed]


CASES = {
    "full": lambda s: RunComparison(s, costs_for(s), 0.8),
    "no-device": lambda s: RunComparison(s, {}, 0.8),
    "unreached": lambda s: RunComparison(s, costs_for(s), 0.99),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("style", sorted(STYLES))
def test_no_placeholder_text_titles_or_blank_panels(summaries, case, style):
    drawn = build_figures(CASES[case](summaries), style)
    assert drawn.figures
    for stem, fig in drawn.figures:
        assert free_texts(fig) == [], f"{case}/{style}/{stem}"
        assert all(ax.axison for ax in fig.axes), f"{case}/{style}/{stem}: a blank panel"
        assert all(ax.get_title() == "" for ax in fig.axes) and fig._suptitle is None, f"{stem}: a title"
        if style == "paper-single":
            assert fig.get_size_inches()[1] <= 3.5 + 1e-9, f"{stem}: {fig.get_size_inches()[1]} in tall"


def test_dense_only_uploads_leave_the_mask_panel_out_and_say_so(tmp_path, factory):
    runs = [factory.write_run(tmp_path, n, 0.0, upload="dense") for n in ("a", "b")]
    notes = []
    fig = upload_figure(runs, notes=notes)
    assert len(fig.axes) == 1 and free_texts(fig) == []
    assert notes and "dense" in notes[0]


def test_sweep_needs_two_sparsities_and_says_why(summaries):
    with pytest.raises(BadInputError, match="two or more"):
        sparsity_sweep_figure(summaries[:1])
    drawn = build_figures(RunComparison(summaries[:1]), names=["sweep"])
    assert "two or more" in dict(drawn.skipped)["sweep"]
    notes = []
    fig = sparsity_sweep_figure(summaries, notes=notes)  # no device: two panels, the third said
    assert len(fig.axes) == 2 and "speed-up" in notes[0]


def _hex(c):
    return mc.to_hex(c).lower()


@pytest.mark.slow
def test_one_colour_per_run_and_device_across_every_figure(summaries):
    comp = RunComparison(summaries, costs_for(summaries), 0.8)
    drawn = build_figures(comp, "paper-double")
    run_colours: dict[str, set[str]] = {s.run_id: set() for s in summaries}
    dev_colours: dict[str, set[str]] = {d: set() for d, _ in DEVICES}
    derived = set()
    for _, fig in drawn.figures:
        for a in fig.findobj():
            gid = a.get_gid() or ""
            kind, _, rest = gid.partition(":")
            colour = None
            if hasattr(a, "get_color") and not isinstance(a, Rectangle):
                colour = _hex(a.get_color())
            elif isinstance(a, Rectangle) and a.get_fill():
                colour = _hex(a.get_facecolor())
            if colour is None:
                continue
            if kind in ("accuracy-round", "accuracy-energy", "upload-round"):
                run_colours[rest].add(colour)
            elif kind in ("device-time", "device-energy") and rest.startswith("sparse:"):
                run_colours[rest.split(":")[1]].add(colour)
            elif kind == "sweep-speedup":
                dev_colours[rest].add(colour)
            elif kind.startswith("target-") and " (estimated)" in rest and not rest.startswith("host"):
                dev_colours[rest.split(" (estimated)")[0]].add(colour)
            elif kind in ("sweep-flops", "sweep-accuracy"):
                derived.add(colour)
    palette = {c.lower() for c in PALETTES["okabe-ito"]}
    for key, cs in list(run_colours.items()) + list(dev_colours.items()):
        assert len(cs) == 1, f"{key}: {cs}"
        assert cs <= palette, f"{key}: {cs} not Okabe-Ito"
    runs = [next(iter(c)) for c in run_colours.values()]
    devs = [next(iter(c)) for c in dev_colours.values()]
    assert len(set(runs + devs)) == len(runs) + len(devs), "a run and a device share a colour"
    assert derived and not derived & set(devs), "a derived line shares a device colour"


def _labelled_ticks(ax, axis):
    lo, hi = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    target = ax.yaxis if axis == "y" else ax.xaxis
    return [t.get_text() for loc, t in zip(target.get_majorticklocs(), target.get_ticklabels())
            if lo <= loc <= hi and t.get_text()]


@pytest.mark.slow
@pytest.mark.parametrize("style", sorted(STYLES))
def test_log_axes_have_three_labelled_ticks(summaries, style):
    drawn = build_figures(RunComparison(summaries, costs_for(summaries), 0.8), style)
    logs = 0
    for stem, fig in drawn.figures:
        fig.canvas.draw()
        for ax in fig.axes:
            for axis in ("x", "y"):
                if (ax.get_yscale() if axis == "y" else ax.get_xscale()) == "log":
                    logs += 1
                    assert len(_labelled_ticks(ax, axis)) >= 3, f"{style}/{stem}: {_labelled_ticks(ax, axis)}"
    assert logs >= 2  # the device comparison spans 3 decades (h100 vs jetson-nano): log on both panels


@pytest.mark.parametrize("values", [(12.0, 190.0), (0.004, 30.0), (95.0, 1000.0), (3.0, 31.0)])
def test_log_axis_labels_three_ticks_over_any_span_of_a_decade(values):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar([0, 1], list(values))
    assert log_axis(ax, "y")
    fig.canvas.draw()
    labels = _labelled_ticks(ax, "y")
    assert len(labels) >= 3, labels
    lo, hi = ax.get_ylim()
    assert lo <= min(values) and hi >= max(values)
    assert not log_axis(fig.add_subplot(2, 1, 2), "y", [5.0, 20.0])  # under a decade: stays linear


def test_layer_rows_are_module_paths_and_empty_rows_hidden(tmp_path, factory):
    run = factory.write_run(tmp_path, "paths", 0.9)
    doc = json.loads((run / "layers.json").read_text())
    zero = {"forward": 0, "backward_input": 0, "backward_weight": 0}
    doc["layers"] = [dict(r, name=f"layer1.{i}.conv{i}") for i, r in enumerate(doc["layers"])]
    doc["layers"].append({"name": "layer1.0.conv0", "type": "bias_add", "op_class": "elementwise", "dense": dict(zero, forward=10),
                          "sparse": dict(zero, forward=10)})
    doc["layers"].append({"name": "fc.topk", "type": "topk", "op_class": "topk", "dense": zero, "sparse": zero})
    doc["layers"].append({"name": "head.fc", "type": "Linear", "op_class": "gemm", "dense": dict(zero, forward=1),
                          "sparse": dict(zero, forward=1)})  # a linear layer is drawn however thin
    (run / "layers.json").write_text(json.dumps(doc))
    notes = []
    fig = layer_breakdown_figure(run, notes=notes)  # a run directory is accepted as is
    names = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    totals = {}
    for r in doc["layers"]:
        totals[r["name"]] = totals.get(r["name"], 0) + sum(r["dense"].get(k, 0) for k in zero)
    visible = {n for n, t in totals.items() if t >= 0.01 * max(totals.values())} | {"head.fc"}
    assert sorted(names) == sorted(visible) and len(visible) >= 3
    thin = set(totals) - visible - {"fc.topk"}
    assert thin and notes and all(n in notes[0] for n in thin)  # too thin to see: left out, and said
    assert "fc.topk" not in names and not any("(" in n for n in names)
    first = [b for b in fig.findobj(Rectangle) if b.get_gid() == "layer:dense:forward:layer1.0.conv0"][0]
    assert first.get_width() * 1 > 0  # the bias row is folded into its module's bar
    assert fig.get_size_inches()[1] <= 3.5


def test_figures_take_a_run_directory_rundata_or_a_summary(sweep):
    data = [load_run(r) for r in sweep]
    sums = [summarize_run(d) for d in data]
    ys = []
    for runs in (sweep, data, sums, sweep[0], data[0]):
        fig = accuracy_figure(runs)
        first = [a for a in fig.findobj() if a.get_gid() == f"accuracy-round:{sums[0].run_id}"][0]
        ys.append(list(first.get_ydata()))
    assert all(y == ys[0] for y in ys)
    assert "RunComparison(runs=['dense', 'sparse90', 'sparse95']" in repr(RunComparison(tuple(sums)))


def test_plots_never_import_report():
    pkg = Path(plots_pkg.__file__).parent
    offenders = []
    for path in sorted(pkg.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                mod = ("." * node.level) + (node.module or "")
                names = [mod] + [f"{mod}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if any(n.startswith(("..report", "zerofl_profiler.report")) or n in ("...report",) for n in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
    assert len(list(pkg.glob("*.py"))) >= 8


def test_docs_describe_every_figure_that_exists():
    """docs/reports.md's figure table names each figure and its function, and claims log scale only
    where the figure decides it by the data's span."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reports.md").read_text()
    table = doc.split("| file | function (`zerofl_profiler.plots`) | what it shows |")[1].split("\n\n")[0]
    rows = {line.split("|")[1].strip().strip("`"): line for line in table.splitlines()[2:] if line.startswith("|")}
    assert {k.split("-")[0] for k in rows} == set(plots_pkg.FIGURES)
    for row in rows.values():
        fn = row.split("|")[2].strip().strip("`").split("(")[0]
        assert callable(getattr(plots_pkg, fn)), fn
        if "log" in row:
            assert "span" in row, row  # log scale is conditional on the span, and the row says so
