"""`zerofl-profile fidelity --json` and `calibrate --from-published`: fixed fields, honest numbers, catalogue output."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.cli._run_cli import run
from zerofl_profiler.calibration.published.rows import load_rows
from zerofl_profiler.calibration.published.summary import CHECK_FIELDS, JSON_SCHEMA, ROW_FIELDS

SUMMARY_FIELDS = {"total_rows", "comparable_rows", "check_rows", "excluded_rows", "excluded_by_rule", "in_sample",
                  "held_out", "energy", "held_out_device", "independent_check"}
STAT_FIELDS = {"rows", "median_error", "max_error", "within_1_5x", "max_ratio"}


def _small_rows(tmp_path: Path, checks: tuple[str, ...] = ()) -> Path:
    """The package's LeNet and AlexNet rows of the Xiaomi phone plus one multi-GPU row (excluded); each id in
    ``checks`` is added once more as a check row (id suffixed "-check")."""
    text = (Path(__file__).resolve().parents[2] / "zerofl_profiler" / "calibration" / "published" / "rows.toml"
            ).read_text()
    head, *tables = text.split("\n[[row]]\n")
    keep = [t for t in tables if ('id = "mnn-xiaomi-mnn-lenet' in t or 'id = "mnn-xiaomi-mnn-alexnet' in t
                                  or 'id = "dle-v100-32g-resnet50-fp32-b112-8gpu"' in t)]
    for rid in checks:
        t = next(t for t in tables if f'id = "{rid}"\n' in t)
        keep.append(t.replace(f'id = "{rid}"\n', f'id = "{rid}-check"\nrole = "check"\n', 1))
    out = tmp_path / "rows.toml"
    out.write_text(head + "".join("\n[[row]]\n" + t for t in keep))
    return out


def _check_doc(doc: dict, n_rows: int) -> None:
    assert doc["schema"] == JSON_SCHEMA
    assert set(doc) == {"schema", "summary", "rules", "excluded", "fits", "rows", "checks"}
    s = doc["summary"]
    assert set(s) == SUMMARY_FIELDS and s["total_rows"] == n_rows
    assert s["comparable_rows"] + s["check_rows"] + s["excluded_rows"] == n_rows
    assert s["excluded_rows"] == sum(len(v) for v in doc["excluded"].values())
    assert s["check_rows"] == len(doc["checks"]) == s["independent_check"]["rows"]
    for k in ("in_sample", "held_out", "energy", "held_out_device", "independent_check"):
        assert STAT_FIELDS <= set(s[k])
    for c in doc["checks"]:
        assert tuple(c) == CHECK_FIELDS and c["ratio"] == pytest.approx(c["predicted_s"] / c["measured_s"])
    fitted = {rid for f in doc["fits"] for d in f["devices"] for rid in d["rows"]}
    assert not fitted & {c["id"] for c in doc["checks"]}  # no fit saw a check row
    assert not {r["id"] for r in doc["rows"]} & {c["id"] for c in doc["checks"]}
    assert STAT_FIELDS <= set(s["held_out_device"]["energy"])
    held_dev = [r["device_held_out_ratio"] for r in doc["rows"] if r["device_held_out_ratio"] is not None]
    assert s["held_out_device"]["rows"] == len(held_dev)
    for r in doc["rows"]:
        assert tuple(r) == ROW_FIELDS
        assert r["ratio"] == pytest.approx(r["predicted_s"] / r["measured_s"])
        assert r["measured_s"] > 0 and r["predicted_s"] > 0 and r["source"]["quote"]
    ratios = [r["ratio"] for r in doc["rows"]]
    assert s["in_sample"]["within_1_5x"] == sum(1 / 1.5 <= x <= 1.5 for x in ratios)


@pytest.mark.slow
def test_fidelity_json_small_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _small_rows(tmp_path)
    res = run(capsys, "fidelity", "--rows", str(rows), "--json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    _check_doc(doc, 11)
    assert doc["checks"] == [] and doc["summary"]["check_rows"] == 0
    assert doc["excluded"] == {"multi-gpu": ["dle-v100-32g-resnet50-fp32-b112-8gpu"]}
    # two models on one device: every row is held out by a fit that saw only the other model
    assert all(r["held_out_basis"] == f"fitted without {r['model']}" for r in doc["rows"])
    fit = doc["fits"][0]["devices"][0]
    assert fit["status"] == "fitted" and len(fit["rows"]) == 10


@pytest.mark.slow
def test_fidelity_json_package_rows(capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "fidelity", "--json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    _check_doc(doc, len(load_rows()))
    assert doc["summary"]["energy"]["rows"] > 0 and doc["summary"]["held_out"]["rows"] > 0
    # several GPUs: each is priced from the others' fits (the MNN phone is alone in its class)
    assert {"a100-gpu", "v100-gpu"} <= set(doc["summary"]["held_out_device"]["devices"])
    assert all(r["device_held_out_ratio"] is None for r in doc["rows"] if r["unit"] == "cpu")
    # the independent check: the fitted GPUs priced by their fit, the H100 by what its class carries over
    basis = {c["device"]: c["basis"] for c in doc["checks"]}
    assert basis["v100"] == basis["a100"] == "fitted" and basis["h100"].startswith("carried over from ")
    assert "v100-gpu" in basis["h100"] and "h100-gpu" not in basis["h100"]


@pytest.mark.slow
def test_check_rows_change_no_fit_and_are_priced_by_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A row added again as a check leaves every fit as it was and is priced as the fit prices the row itself."""
    docs = []
    for checks in ((), ("mnn-xiaomi-mnn-alexnet-b8", "mnn-xiaomi-mnn-lenet-b16")):
        res = run(capsys, "fidelity", "--rows", str(_small_rows(tmp_path, checks)), "--json")
        assert res.code == 0, res.err
        docs.append(json.loads(res.out))
    plain, checked = docs
    _check_doc(checked, 13)
    assert checked["fits"] == plain["fits"] and checked["rows"] == plain["rows"]
    in_sample = {r["id"]: r for r in plain["rows"]}
    assert [c["id"] for c in checked["checks"]] == ["mnn-xiaomi-mnn-alexnet-b8-check", "mnn-xiaomi-mnn-lenet-b16-check"]
    for c in checked["checks"]:
        twin = in_sample[c["id"].removesuffix("-check")]
        assert c["basis"] == "fitted" and c["predicted_s"] == twin["predicted_s"] and c["ratio"] == twin["ratio"]
        assert c["energy_ratio"] == twin["energy_ratio"]


def test_write_catalogue_keeps_v1_fields_and_cites_the_fit() -> None:
    from types import MappingProxyType

    from zerofl_profiler.calibration.published.declared import declared_units
    from zerofl_profiler.calibration.published.fit import ClassFit, DeviceFit
    from zerofl_profiler.calibration.published.write import device_text
    from zerofl_profiler.hardware_models.catalogue import _catalogue_files

    decl = declared_units([("snapdragon-855", "cpu")])[("snapdragon-855", "cpu")]
    d = DeviceFit("snapdragon-855", "cpu", None, "mnn", "fitted", 0.25, 3e-4, 2e10, ("bandwidth", "overhead", "scale"),
                  ("r1", "r2", "r3", "r4"), 0.5, 2.5, "fitted", ("dynamic_power_w",), ("r2",))
    cls = ClassFit("phone-cpu", 1e6, 0.05, 0.01, ("half_work", "optimizer", "grouped"),
                   MappingProxyType({("snapdragon-855", "cpu", None): d}), 0.1)
    from zerofl_profiler.calibration.published.declared import template_text

    text = template_text("snapdragon-855")
    new = tomllib.loads(device_text(text, decl, d, cls))
    old = tomllib.loads(text)
    assert new["schema"] == 2
    for unit, fields in old["units"].items():  # every v1 field still there: unchanged, or fitted
        for k, v in fields.items():
            if k == "efficiency":
                assert set(v) <= set(new["units"][unit][k])
            else:
                assert new["units"][unit][k] == v or new["units"][unit][k]["source"] == "fit_published", (unit, k)
    assert new["units"]["gpu"] == old["units"]["gpu"]
    cpu = new["units"]["cpu"]
    assert cpu["default_runtime"] == "mnn"
    assert cpu["dynamic_power_w"] == {"value": 2.5, "source": "fit_published"}
    assert cpu["kernel_overhead_s"]["value"] == 3e-4 and cpu["mem_bandwidth_bytes_per_s"]["value"] == 2e10
    assert cpu["efficiency"]["gemm"]["value"] == 0.25
    assert cpu["efficiency"]["gemm_grouped"]["value"] == pytest.approx(0.25 * 0.05)
    assert cpu["efficiency"]["optimizer"]["value"] == 0.01
    assert cpu["efficiency_curve"]["half_work_flops"]["value"] == 1e6
    src = new["sources"]["fit_published"]
    assert src["kind"] == "measured" and src["quote"] == "rows: r1, r2, r3, r4"


def test_write_catalogue_needs_from_published(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    res = run(capsys, "calibrate", "--write-catalogue", str(tmp_path))
    assert res.code == 2 and "--from-published" in res.err


def test_write_mode_scales_the_peaks() -> None:
    from zerofl_profiler.calibration.published.declared import declared_units
    from zerofl_profiler.calibration.published.fit import DeviceFit
    from zerofl_profiler.calibration.published.write import mode_text
    from zerofl_profiler.hardware_models.catalogue import _catalogue_files

    decl = declared_units([("v100", "gpu")])[("v100", "gpu")]
    base = DeviceFit("v100", "gpu", None, "pytorch-eager", "fitted", 0.8, 1e-5, 8e11, ("scale",), ("a", "b"), 40.0,
                     200.0, "fitted")
    m = DeviceFit("v100", "gpu", "150W", "pytorch-eager", "fitted", 0.8, 1e-5, 8e11, ("clock",), ("c", "d"), 40.0,
                  110.0, "fitted", clock=0.6)
    new = tomllib.loads(mode_text(_catalogue_files()["v100"].read_text(), decl, base, m))
    mode = new["modes"]["150W"]["units"]["gpu"]
    assert mode["peak_flops"]["value"] == pytest.approx(15.7e12 * 0.6, rel=1e-5)
    assert mode["peak_flops_fp16"]["value"] == pytest.approx(125e12 * 0.6, rel=1e-5)
    assert mode["dynamic_power_w"] == {"value": 110.0, "source": "fit_published"}


@pytest.mark.slow
def test_held_out_fits_in_worker_processes_equal_one_process(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The held-out fits give the same document whether they run in worker processes or here."""
    rows = _small_rows(tmp_path)
    docs = []
    for workers in ("1", "2"):
        monkeypatch.setenv("ZEROFL_LOAD_WORKERS", workers)
        res = run(capsys, "fidelity", "--rows", str(rows), "--json")
        assert res.code == 0, res.err
        docs.append(json.loads(res.out))
    assert docs[0] == docs[1]
    assert all(r["held_out_s"] is not None for r in docs[1]["rows"])


def test_bad_worker_count_stops_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEROFL_LOAD_WORKERS", "abc")
    res = run(capsys, "fidelity", "--rows", str(_small_rows(tmp_path)))
    assert res.code == 2 and res.out == ""
    assert res.err.strip().splitlines() == ["error: $ZEROFL_LOAD_WORKERS must be a whole number of processes, "
                                            "not 'abc'"]
