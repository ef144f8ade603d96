"""The fidelity report as one JSON document (fixed fields) and as text rows, for the CLI and docs.

Error of a prediction = |predicted / measured - 1|. "Within 1.5x" = the ratio lies in [1/1.5, 1.5].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .exclusions import RULES
from .fidelity import CheckResult, FidelityReport, RowResult

JSON_SCHEMA = "zerofl-fidelity/1"
ROW_FIELDS = ("id", "device", "unit", "runtime", "model", "batch", "precision", "workload", "measured_s",
              "predicted_s", "ratio", "held_out_s", "held_out_ratio", "held_out_basis", "energy_measured_j",
              "energy_predicted_j", "energy_ratio", "energy_basis", "device_held_out_s", "device_held_out_ratio",
              "device_held_out_energy_ratio", "source")
CHECK_FIELDS = ("id", "device", "unit", "runtime", "model", "batch", "precision", "workload", "measured_s",
                "predicted_s", "ratio", "basis", "energy_ratio", "setup", "source")


def _stats(ratios: list[float]) -> dict[str, Any]:
    if not ratios:
        return {"rows": 0, "median_error": None, "max_error": None, "within_1_5x": 0, "max_ratio": None}
    r = np.array(ratios)
    err = np.abs(r - 1.0)
    return {"rows": len(ratios), "median_error": float(np.median(err)), "max_error": float(err.max()),
            "within_1_5x": int(np.sum((r <= 1.5) & (r >= 1 / 1.5))), "max_ratio": float(np.max(np.maximum(r, 1 / r)))}


def _row(res: RowResult) -> dict[str, Any]:
    r = res.row
    basis = None
    if res.energy_measured_j is not None:
        basis = "above idle" if r.energy_above_idle else "board (average power x step time)"
    return {"id": r.id, "device": r.device, "unit": r.unit, "runtime": r.runtime, "model": r.model,
            "batch": r.batch, "precision": r.precision, "workload": res.workload, "measured_s": r.step_s,
            "predicted_s": res.predicted_s, "ratio": res.ratio, "held_out_s": res.held_out_s,
            "held_out_ratio": res.held_out_ratio, "held_out_basis": res.held_out_basis,
            "energy_measured_j": res.energy_measured_j, "energy_predicted_j": res.energy_predicted_j,
            "energy_ratio": res.energy_ratio, "energy_basis": basis, "device_held_out_s": res.device_held_out_s,
            "device_held_out_ratio": res.device_held_out_ratio,
            "device_held_out_energy_ratio": res.device_held_out_energy_ratio, "source": r.source.to_json()}


def _check_row(c: CheckResult) -> dict[str, Any]:
    r = c.row
    return {"id": r.id, "device": r.device, "unit": r.unit, "runtime": r.runtime, "model": r.model,
            "batch": r.batch, "precision": r.precision, "workload": c.workload, "measured_s": r.step_s,
            "predicted_s": c.predicted_s, "ratio": c.ratio, "basis": c.basis, "energy_ratio": c.energy_ratio,
            "setup": r.setup, "source": r.source.to_json()}


def summary(rep: FidelityReport) -> dict[str, Any]:
    """Counts and error statistics: in-sample, held out, energy."""
    held = rep.held_out
    return {
        "total_rows": rep.total_rows, "comparable_rows": len(rep.results), "check_rows": len(rep.checks),
        "excluded_rows": sum(len(v) for v in rep.excluded.values()),
        "excluded_by_rule": {k: len(v) for k, v in rep.excluded.items()},
        "in_sample": _stats([r.ratio for r in rep.results]),
        "held_out": dict(_stats([r.held_out_ratio for r in held if r.held_out_ratio is not None]),
                         not_held_out=len(rep.results) - len(held)),
        "energy": _stats([r.energy_ratio for r in rep.results if r.energy_ratio is not None]),
        "held_out_device": dict(
            _stats([r.device_held_out_ratio for r in rep.results if r.device_held_out_ratio is not None]),
            devices=sorted({f"{r.row.device}-{r.row.unit}" for r in rep.results if r.device_held_out_s is not None}),
            energy=_stats([r.device_held_out_energy_ratio for r in rep.results
                           if r.device_held_out_energy_ratio is not None])),
        "independent_check": dict(
            _stats([c.ratio for c in rep.checks]),
            devices=sorted({f"{c.row.device}-{c.row.unit}" for c in rep.checks}),
            sources=sorted({c.row.source.repository for c in rep.checks}),
            energy=_stats([c.energy_ratio for c in rep.checks if c.energy_ratio is not None])),
    }


def to_json(rep: FidelityReport) -> dict[str, Any]:
    """The `fidelity --json` document."""
    return {"schema": JSON_SCHEMA, "summary": summary(rep),
            "rules": [{"name": r.name, "why": r.why} for r in RULES],
            "excluded": {k: list(v) for k, v in rep.excluded.items()},
            "fits": [f.to_json() for f in rep.fits.values()],
            "rows": [_row(r) for r in rep.results],
            "checks": [_check_row(c) for c in rep.checks]}


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def table_lines(rep: FidelityReport) -> list[str]:
    """A Markdown table: one line per comparable row."""
    out = ["| row | device | workload | measured s/step | predicted | ratio | held-out ratio | energy ratio |",
           "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rep.results:
        ho = _fmt(r.held_out_ratio) + ("" if r.held_out_basis.startswith("fitted") else " (declared)")
        out.append(f"| {r.row.id} | {r.row.device}-{r.row.unit} ({r.row.runtime}) | {r.workload} | "
                   f"{r.row.step_s:.4g} | {r.predicted_s:.4g} | {r.ratio:.2f} | {ho} | {_fmt(r.energy_ratio)} |")
    return out


def by_model_lines(rep: FidelityReport) -> list[str]:
    """Where the error comes from: per device and model, the median ratio and its range, in-sample and held out."""
    groups: dict[tuple[str, str], list[RowResult]] = {}
    for r in rep.results:
        groups.setdefault((f"{r.row.device}-{r.row.unit}", r.row.model), []).append(r)
    out = ["| device | model | rows | in-sample median ratio [min, max] | held-out median ratio [min, max] | "
           "held-out median error |", "|---|---|---:|---|---|---:|"]
    for (dev, model), rs in sorted(groups.items()):
        ins = np.array([r.ratio for r in rs])
        ho = np.array([r.held_out_ratio for r in rs if r.held_out_ratio is not None and
                       r.held_out_basis.startswith("fitted")])
        hs = (f"{np.median(ho):.2f} [{ho.min():.2f}, {ho.max():.2f}]", f"{np.median(np.abs(ho - 1)):.1%}") \
            if len(ho) else ("not held out (one model on the device)", "-")
        out.append(f"| {dev} | {model} | {len(rs)} | {np.median(ins):.2f} [{ins.min():.2f}, {ins.max():.2f}] | "
                   f"{hs[0]} | {hs[1]} |")
    return out


def by_device_lines(rep: FidelityReport) -> list[str]:
    """Held out by device: per device and model, the ratio when the device is priced from the others of its class."""
    groups: dict[tuple[str, str], list[float]] = {}
    energy: dict[tuple[str, str], list[float]] = {}
    for r in rep.results:
        if r.device_held_out_ratio is not None:
            k = (f"{r.row.device}-{r.row.unit}", r.row.model)
            groups.setdefault(k, []).append(r.device_held_out_ratio)
            if r.device_held_out_energy_ratio is not None:
                energy.setdefault(k, []).append(r.device_held_out_energy_ratio)
    out = ["| device | model | rows | median ratio [min, max] | median error | energy median ratio |",
           "|---|---|---:|---|---:|---:|"]
    for (dev, model), v in sorted(groups.items()):
        a = np.array(v)
        e = energy.get((dev, model))
        out.append(f"| {dev} | {model} | {len(a)} | {np.median(a):.2f} [{a.min():.2f}, {a.max():.2f}] | "
                   f"{np.median(np.abs(a - 1)):.1%} | {_fmt(float(np.median(e)) if e else None)} |")
    return out


def check_lines(rep: FidelityReport) -> list[str]:
    """Independent check: one line per row of a source no fit saw, priced as the catalogue prices its device."""
    out = ["| row | device | workload | measured s/step | predicted | ratio | priced by |",
           "|---|---|---|---:|---:|---:|---|"]
    for c in rep.checks:
        out.append(f"| {c.row.id} | {c.row.device}-{c.row.unit} ({c.row.runtime}) | {c.workload} | "
                   f"{c.row.step_s:.4g} | {c.predicted_s:.4g} | {c.ratio:.2f} | {c.basis} |")
    return out


def summary_lines(rep: FidelityReport) -> list[str]:
    """The summary in a few lines of text."""
    s = summary(rep)
    i, h, e, d, c = s["in_sample"], s["held_out"], s["energy"], s["held_out_device"], s["independent_check"]
    ex = ", ".join(f"{k} {v}" for k, v in s["excluded_by_rule"].items())
    held_back = f", {s['check_rows']} held back as an independent check" if s["check_rows"] else ""
    lines = [
        f"rows: {s['total_rows']} published, {s['comparable_rows']} comparable{held_back}, "
        f"{s['excluded_rows']} excluded ({ex})",
        f"in-sample: {i['within_1_5x']}/{i['rows']} within 1.5x, median error {_fmt(i['median_error'], '.1%')}, "
        f"worst {_fmt(i['max_ratio'])}x",
        f"held out (leave one model out): {h['rows']} rows, median error {_fmt(h['median_error'], '.1%')}, "
        f"{h['within_1_5x']}/{h['rows']} within 1.5x; {h['not_held_out']} rows on devices with one model only",
        f"energy: {e['rows']} rows, median error {_fmt(e['median_error'], '.1%')}, {e['within_1_5x']}/{e['rows']} within 1.5x",
        f"held out by device (each device priced from the others of its class, {', '.join(d['devices']) or 'none'}): "
        f"{d['rows']} rows, median error {_fmt(d['median_error'], '.1%')}, {d['within_1_5x']}/{d['rows']} within 1.5x; "
        f"energy {d['energy']['rows']} rows, median error {_fmt(d['energy']['median_error'], '.1%')}",
    ]
    if c["rows"]:
        lines.append(f"independent check (a source no fit saw, {', '.join(c['sources'])}; priced as the catalogue "
                     f"prices {', '.join(c['devices'])}): {c['rows']} rows, median error "
                     f"{_fmt(c['median_error'], '.1%')}, {c['within_1_5x']}/{c['rows']} within 1.5x")
    return lines
