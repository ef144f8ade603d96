"""The smaller defects: each one line that says what is wrong, and what to do next."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest





def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_wrong_typed_config_key_overridden_by_a_flag_is_reported(tmp_path, cli):
    cfg = tmp_path / "c.toml"
    cfg.write_text('rounds = "three"\n')
    code, _, err = cli("train", "--config", str(cfg), "--rounds", "2", "--out", str(tmp_path / "run"))
    assert code == 2
    line = _one_line(err)
    assert str(cfg) in line and "'rounds'" in line and "wrong type" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("where", ["import", "factory"])
def test_model_raising_system_exit_says_its_exit_code(tmp_path, cli, where):
    f = tmp_path / "m.py"
    f.write_text("import sys\nsys.exit(3)\n" if where == "import" else
                 "import sys\ndef f(**kw):\n    sys.exit('no GPU here')\n")
    code, _, err = cli("flops", "--model", f"{f}:f", "--input-shape", "1,8,8")
    assert code == 2
    assert ("sys.exit(3)" if where == "import" else "sys.exit('no GPU here')") in _one_line(err)


@pytest.mark.parametrize("shape,part", [("3,x,32", "part 2 ('x')"), ("3,,32", "part 2 ('')"),
                                        ("3,-1,32", "part 2 (-1)"), ("3x32xq", "part 3 ('q')")])
def test_flops_input_shape_names_the_bad_part(cli, shape, part):
    code, _, err = cli("flops", "--model", "cnn", "--input-shape", shape)
    assert code == 2
    line = _one_line(err)
    assert part in line and repr(shape) in line


def test_compare_sparsity_list_rejects_nan_and_names_it(cli):
    code, _, err = cli("compare", "--model", "cnn", "--device", "host", "--sparsity", "0,nan")
    assert code == 2 and "'nan'" in _one_line(err)


def _unescaped_markup(text: str) -> str:
    """The Markdown/HTML metacharacters left once every backslash escape is removed."""
    bare = re.sub(r"\\.", "", text)
    return "".join(c for c in bare if c in "<*[]`|~&") + "".join(re.findall(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", bare))


def test_markdown_report_escapes_config_and_model_strings():
    from zerofl_profiler.report.markdown import md_code, md_escape

    hostile = "<img src=x onerror=alert(1)> | **bold** [link](http://x) `code` _em_ ~~del~~ &amp;\nnext"
    out = md_escape(hostile)
    assert "\n" not in out
    assert _unescaped_markup(out) == ""
    assert re.sub(r"\\(.)", r"\1", out) == hostile.replace("\n", " ")  # nothing lost, only escaped
    assert md_escape("cnn_small-v2.1 -> 0.9") == "cnn_small-v2.1 -> 0.9"  # ordinary text is left alone
    assert md_code("a`b") == "``a`b``" and md_code("`x") == "`` `x ``"


def test_markdown_report_of_a_run_with_a_hostile_name(tmp_path, cli):
    name = "<script>alert(1)</script> | *x*"
    run = tmp_path / "run"
    code, _, err = cli("train", "--out", str(run), "--rounds", "1", "--clients", "2",
                        "--clients-per-round", "2", "--name", name, "--quiet")
    assert code == 0, err
    code, out, err = cli("report", str(run), "--format", "md")
    assert code == 0, err
    title = out.splitlines()[0]
    assert title.startswith("# zerofl-profiler report: ") and _unescaped_markup(title.split(": ", 1)[1]) == ""


def _start_train(out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-m", "zerofl_profiler", "train", "--out", str(out), "--rounds", "50",
                             "--clients", "2", "--clients-per-round", "2", "--quiet", "--energy", "none"],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_train_says_it_stopped_and_how_to_resume(tmp_path, sig):
    out = tmp_path / "run dir"  # a space: the printed command must be quoted
    p = _start_train(out)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + sig, err
    line = _one_line(err)
    assert f"stopped by {sig.name}" in line
    cmd = line.split("Continue with: ", 1)[1]
    assert cmd == f"zerofl-profile train --out '{out}' --resume"
    if sig == signal.SIGTERM:  # the printed command does continue the run
        import shlex

        done = len((out / "rounds.jsonl").read_text().splitlines())
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        p2 = subprocess.Popen([sys.executable, "-m", "zerofl_profiler", *shlex.split(cmd)[1:], "--quiet"], text=True,
                              env=env, stderr=subprocess.PIPE)
        while len((out / "rounds.jsonl").read_text().splitlines()) <= done and time.time() < deadline:
            time.sleep(0.05)
        p2.send_signal(signal.SIGTERM)  # a new round was recorded: no need to run all 50
        _, err2 = p2.communicate(timeout=120)
        assert p2.returncode == 128 + signal.SIGTERM and "stopped by SIGTERM" in err2, err2
