"""Published rows: the package data loads, every number is in its quoted line, bad rows are one-line errors."""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import pytest

from zerofl_profiler.calibration.published.exclusions import RULES, Context, exclusion_of
from zerofl_profiler.calibration.published.rows import load_rows, parse_row
from zerofl_profiler.errors import BadInputError

GOOD = {
    "id": "x-b1", "device": "v100", "unit": "gpu", "runtime": "pytorch-eager", "model": "mnn-lenet", "batch": 4,
    "optimizer": "sgd", "precision": "fp32", "precision_basis": "stated", "setup": "s",
    "measured": {"value": 12.5, "unit": "ms_per_step"},
    "source": {"repository": "o/r", "commit": "abc", "file": "f.csv", "quote": "4,12.5"},
}


def _with(**kw: object) -> dict:
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in GOOD.items()}
    d.update(kw)
    return d


def test_package_rows_load_and_every_number_is_in_its_quote() -> None:
    rows = load_rows()
    assert len(rows) > 40
    for r in rows:
        cells = re.split(r"[,|\s]+", r.source.quote)
        assert any(c and float(c) == r.time_value for c in cells if re.fullmatch(r"[0-9.]+", c)), r.id
        if r.power_w is not None:
            assert any(c and float(c) == r.power_w for c in cells if re.fullmatch(r"[0-9.]+", c)), r.id
        if r.energy_j is not None:
            assert r.energy_source is not None
            assert any(float(c) == r.energy_j for c in r.energy_source.quote.split(",")[1:]), r.id
        assert r.source.repository and len(r.source.commit) == 40 and r.source.file


def test_units_convert_to_seconds_per_step() -> None:
    assert parse_row(_with(), "t").step_s == pytest.approx(0.0125)
    r = parse_row(_with(measured={"value": 400.0, "unit": "samples_per_s"}, batch=100), "t")
    assert r.step_s == pytest.approx(0.25)
    r = parse_row(_with(measured={"value": 400.0, "unit": "samples_per_s"}, batch=100, gpus=8), "t")
    assert r.step_s == pytest.approx(2.0)
    r = parse_row(_with(measured={"value": 100.0, "unit": "s_per_epoch", "epoch_samples": 1001,
                                  "epoch_samples_basis": "b"}, batch=10), "t")
    assert r.step_s == pytest.approx(100.0 / 101)


@pytest.mark.parametrize("change, needle", [
    ({"source": None}, "source"),
    ({"source": {"repository": "o/r", "commit": "abc", "file": "f"}}, "quote"),
    ({"precision": None}, "precision"),
    ({"precision": "int8"}, "int8"),
    ({"measured": {"value": 1.0}}, "measured.unit"),
    ({"measured": {"value": -1.0, "unit": "ms_per_step"}}, "value"),
    ({"measured": {"value": 1.0, "unit": "s_per_epoch"}}, "epoch_samples"),
    ({"batch": 0}, "batch"),
    ({"role": "test"}, "role"),
])
def test_bad_row_is_one_line_naming_the_row(change: dict, needle: str) -> None:
    raw = {k: v for k, v in _with(**change).items() if v is not None}
    with pytest.raises(BadInputError) as exc:
        parse_row(raw, "rows.toml row 0")
    msg = str(exc.value)
    assert "'x-b1'" in msg and needle in msg and "\n" not in msg


def test_fidelity_cli_bad_rows_file_exit_2(tmp_path, capsys) -> None:
    from tests.cli._run_cli import run

    bad = tmp_path / "rows.toml"
    bad.write_text('schema = 1\n[[row]]\nid = "a"\ndevice = "v100"\n')
    res = run(capsys, "fidelity", "--rows", str(bad))
    assert res.code == 2 and res.out == "" and res.err.strip().count("\n") == 0 and "'a'" in res.err


def test_each_exclusion_rule_fires() -> None:
    units = frozenset({("v100", "gpu")})
    base = parse_row(_with(), "t")
    cases = {
        "unknown-device": parse_row(_with(device="nope"), "t"),
        "no-model-definition": parse_row(_with(model="vgg99"), "t"),
        "multi-gpu": parse_row(_with(gpus=8), "t"),
        "undocumented-setup": parse_row(_with(source=dict(GOOD["source"], file="a/MEIZU_Core_f0/t.csv")), "t"),
    }
    limited = parse_row(_with(power_limit_w=150, id="limited"), "t")  # a power mode, not an exclusion
    ctx = Context.of([*cases.values(), limited, base], units)
    assert {r.name for r in RULES} == set(cases)
    for rule, row in cases.items():
        assert exclusion_of(row, ctx) == rule
    assert exclusion_of(base, ctx) is None and exclusion_of(limited, ctx) is None


def test_declared_extras_cite_sources() -> None:
    raw = tomllib.loads(resources.files("zerofl_profiler.calibration.published").joinpath("declared.toml")
                        .read_text())
    for dev, units in raw["device"].items():
        for unit, fields in units.items():
            for k, v in fields.items():
                if isinstance(v, dict):
                    assert v["source"] in raw["sources"], (dev, unit, k)


def test_modelled_names_match_the_definitions() -> None:
    from zerofl_profiler.calibration.published.models import PUBLISHED_MODELS
    from zerofl_profiler.calibration.published.rows import MODELLED

    assert set(PUBLISHED_MODELS) == set(MODELLED)


#: Zeus power traces shipped at the board's own (highest) limit only: GPU -> (limit W, precision)
ZEUS_BOARD_LIMIT = {"a40": (300.0, "tf32"), "rtx6000": (260.0, "fp32"), "p100": (250.0, "fp32")}


def test_zeus_rows_of_the_a40_rtx6000_and_p100_are_one_unit_each_and_comparable() -> None:
    from zerofl_profiler.calibration.published.declared import declared_units

    rows = load_rows()
    zeus = [r for r in rows if r.source.repository == "ml-energy/zeus"]
    declared = declared_units({(r.device, r.unit) for r in rows})
    ctx = Context.of(rows, frozenset(declared))
    for gpu, (limit, precision) in ZEUS_BOARD_LIMIT.items():
        mine = [r for r in zeus if r.device == gpu]
        assert {r.model for r in mine} == {"resnet50-v1.5", "shufflenet-v2"}, gpu
        assert {r.power_limit_w for r in mine} == {limit}, gpu  # no power modes: one fitted unit
        for r in mine:
            assert r.source.file.endswith(f"trace/summary_power_{gpu}.csv") and len(r.source.commit) == 40
            assert r.source.header.startswith("dataset,network,batch_size") and r.source.quote
            cells = r.source.quote.split(",")
            assert int(cells[2]) == r.batch and float(cells[4]) == limit and float(cells[5]) == r.time_value
            assert r.id == f"zeus-{gpu}-{cells[1]}-b{cells[2]}-{cells[3]}-{cells[4]}w"
            assert r.precision == precision and "pytorch==1.10.1" in r.precision_basis
            assert r.power_w is not None and (r.device, r.unit) in declared
            assert exclusion_of(r, ctx) is None, r.id
    # the V100 keeps every limit of its trace, each a power mode
    assert len({r.power_limit_w for r in zeus if r.device == "v100"}) == 7


def test_check_rows_are_lambdas_resnet50_runs_and_every_other_row_is_fitted() -> None:
    """The rows held back from every fit: one source (Lambda's run logs), one GPU, parameters quoted."""
    rows = load_rows()
    checks = [r for r in rows if r.role == "check"]
    assert {r.source.repository for r in checks} == {"lambdal/deeplearning-benchmark"}
    assert {r.device for r in checks} == {"v100", "a100", "h100", "a40", "rtx6000"} and len(checks) == 23
    for r in checks:
        assert r.gpus == 1 and r.model == "resnet50-v1.5" and f"batch_size : {r.batch}," in r.setup
        assert "data_backend : " in r.setup and "train.total_ips" in r.source.quote
        assert ("amp : True" in r.setup) == (r.precision == "fp16")
        assert r.source.file.startswith("pytorch/results/") and r.source.file.endswith(".txt")
    # FP32 runs are TF32 on Ampere and Hopper, FP32 on Volta and Turing
    assert {r.device for r in checks if r.precision == "tf32"} == {"a100", "h100", "a40"}
    assert {r.device for r in checks if r.precision == "fp32"} == {"v100", "rtx6000"}
    assert all(r.role == "fit" for r in rows if r.source.repository != "lambdal/deeplearning-benchmark")
