"""CLI habits users of codecarbon, Zeus and flwr expect: defaults and examples in --help, close-name hints."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from zerofl_profiler.cli import COMMANDS, EXAMPLES
from zerofl_profiler.errors import did_you_mean, unknown_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _run_cli import run  # noqa: E402


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_help_ends_with_examples(capsys, name):
    r = run(capsys, name, "--help")
    assert r.code == 0
    tail = r.out.rstrip().splitlines()[-len(EXAMPLES[name]) - 1:]
    assert tail[0].strip() == "Examples:"
    assert all(ln.strip().startswith("zerofl-profile " + name) for ln in tail[1:])


def test_train_help_shows_the_run_defaults(capsys):
    from zerofl_profiler.config import RunConfig

    out = " ".join(run(capsys, "train", "--help").out.split())
    assert f"SGD momentum. [default: {RunConfig.momentum}]" in out
    assert f"Federated rounds R. [default: {RunConfig.rounds}]" in out
    assert "(default 0)" not in out


@pytest.mark.parametrize("args, hint", [
    (("estimate", ".", "--device", "jetson-nan"), "'jetson-nano'"),
    (("compare", "--model", "cnn", "--input-shape", "1,8,8", "--device", "jetson-nano", "--network", "lt"), "'lte'"),
    (("flops", "--model", "resnet19"), "'resnet18'"),
])
def test_unknown_names_suggest_the_closest(capsys, tmp_path, args, hint):
    r = run(capsys, *args)
    assert r.code == 2
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and f"did you mean {hint}" in lines[0]


def test_did_you_mean_is_silent_when_nothing_is_close():
    assert did_you_mean("zzzz", ["jetson-nano", "t4"]) == ""
    assert re.fullmatch(r"unknown device 'zzzz'; known: t4, a100", unknown_name("device", "zzzz", ["t4", "a100"]))


def test_dense_layers_none_is_spelled_the_same_in_train_and_flops(capsys, tmp_path):
    from zerofl_profiler.cli.train import build_config

    cfg = build_config(None, str(tmp_path / "r"), False, {"dense_layers": "none"})
    assert tuple(cfg.dense_layers) == ()
    r = run(capsys, "flops", "--model", "cnn", "--input-shape", "1,8,8", "--dense-layers", "none", "--json")
    assert r.code == 0, r.err
