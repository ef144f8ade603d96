"""The trace reader rejects a second record of the same (round, client), naming both lines."""

from __future__ import annotations

import pytest

from zerofl_profiler.errors import TraceFormatError
from zerofl_profiler.traces.io import read_client_records, read_round_records


def test_duplicate_client_record_names_both_lines(finished_run, tmp_path, cli):
    lines = (finished_run / "trace.jsonl").read_text().splitlines()
    bad = tmp_path / "trace.jsonl"
    bad.write_text("\n".join(lines + [lines[0]]) + "\n")
    with pytest.raises(TraceFormatError, match=rf":{len(lines) + 1}: duplicate record for round 1, client "
                                               r"\d+ \(first at line 1\)"):
        read_client_records(bad)
    assert len(read_client_records(finished_run)) == len(lines)  # the original still reads


def test_duplicate_round_record_is_rejected_and_the_cli_says_one_line(finished_run, tmp_path, cli):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    rounds = (run / "rounds.jsonl").read_text().splitlines()
    (run / "rounds.jsonl").write_text("\n".join(rounds + rounds) + "\n")
    with pytest.raises(TraceFormatError, match="duplicate record for round 1 "):
        read_round_records(run)
    code, out, err = cli("report", str(run))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "duplicate record for round 1" in lines[0], err
