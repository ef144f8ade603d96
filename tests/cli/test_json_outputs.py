"""Every JSON document printed is whole and finite; a trace never smuggles inf/NaN into any output."""

from __future__ import annotations

import json
import shutil

import pytest








def test_json_with_a_nan_prints_nothing_and_names_the_field(cli, monkeypatch):
    from zerofl_profiler.flops.report import FlopReport

    monkeypatch.setattr(FlopReport, "to_json", lambda self: {"model": "m", "layers": [{"ok": 1.0}, {"flops": float("nan")}]})
    code, out, err = cli("flops", "--model", "cnn", "--json")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "$.layers[1].flops" in lines[0] and "non-finite" in lines[0]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_non_finite_number_in_a_trace_is_bad_input_in_every_format(finished_run, tmp_path, cli, token, fmt):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    lines = (run / "trace.jsonl").read_text().splitlines()
    d = json.loads(lines[-1])
    d["train_loss"] = "@@"
    lines[-1] = json.dumps(d).replace('"@@"', token)
    (run / "trace.jsonl").write_text("\n".join(lines) + "\n")
    code, out, err = cli("report", str(run), "--format", fmt)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"trace.jsonl:{len(lines)}:" in err and "non-finite" in err


def test_every_json_command_prints_one_finite_document(finished_run, cli):
    for argv in (["report", str(finished_run), "--format", "json"],
                 ["estimate", str(finished_run), "--device", "host", "--json"],
                 ["compare", "--model", "cnn", "--device", "host", "--json"],
                 ["devices", "--json"],
                 ["flops", "--model", "cnn", "--json"]):
        code, out, err = cli(*argv)
        assert code == 0, (argv, err)
        json.loads(out, parse_constant=lambda c: pytest.fail(f"{argv}: {c} in output"))
