"""examples/zerofl_cifar10.toml and examples/zerofl_table1.py, end to end on a generated CIFAR-format folder."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest

from zerofl_profiler.cli import main
from zerofl_profiler.config import RunConfig

from _scripts import load_script

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TINY = ["--set", "clients=4", "--set", "clients_per_round=2", "--set", "energy='none'", "--set", "eval_batch_size=10"]


def _script():
    return load_script("examples/zerofl_table1.py", "zerofl_table1_example")


def _jsonl(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_example_config_is_the_papers_setup(cifar_dir):
    cfg = RunConfig.from_toml(EXAMPLES / "zerofl_cifar10.toml", data_dir=str(cifar_dir))
    assert (cfg.dataset, cfg.model, cfg.clients, cfg.clients_per_round, cfg.partition, cfg.alpha) == \
        ("cifar10", "resnet18", 100, 10, "lda", 1.0)
    assert (cfg.local_epochs, cfg.lr_start, cfg.lr_end, cfg.rounds) == (1, 0.1, 0.01, 700)
    assert (cfg.upload, cfg.sparsity, cfg.mask_ratio, cfg.augment) == ("topk-weights", 0.9, 0.0, True)
    assert cfg.lr_for_round(700) == pytest.approx(0.01)


def test_paper_grid_covers_the_table():
    cells = _script().read_cells()
    assert [(c.sparsity, c.upload, c.mask_ratio) for c in cells] == [
        (s, u, m) for s in (0.9, 0.95) for u, m in (("dense", 0.0), ("topk-weights", 0.0), ("topk-weights", 0.1),
                                                    ("topk-weights", 0.2))]
    assert all("ZeroFL" in c.source and "Table 1" in c.source for c in cells)
    assert len({c.cell for c in cells}) == 8 and all(0 < c.paper_accuracy_pct < 100 for c in cells)


@pytest.mark.slow
def test_train_cli_runs_the_example_config_on_cifar_batches(tmp_path, cifar_dir, capsys):
    out = tmp_path / "run"
    main(["train", "--config", str(EXAMPLES / "zerofl_cifar10.toml"), "--data-dir", str(cifar_dir), "--rounds", "1",
          "--clients", "4", "--clients-per-round", "2", "--energy", "none", "--eval-batch-size", "10", "--out", str(out),
          "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["rounds_completed"] == 1 and summary["final_accuracy"] is not None
    stored = RunConfig.from_toml(out / "config.toml")
    assert (stored.model, stored.upload, stored.augment, stored.rounds) == ("resnet18", "topk-weights", True, 1)
    recs = _jsonl(out / "trace.jsonl")
    assert len(recs) == 2 and tomllib.loads((out / "config.toml").read_text())["trace"]["upload"] == "topk-weights"


@pytest.mark.slow
def test_table1_script_writes_its_table_from_the_runs(tmp_path, cifar_dir, capsys):
    mod = _script()
    out = tmp_path / "t1"
    code = mod.main(["--data-dir", str(cifar_dir), "--out", str(out), "--rounds", "1",
                     "--cells", "s90-full,s95-topk-m0.1", *TINY])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert (out / "table1.md").read_text() == printed and "80.62" in printed and "73.65" in printed
    rows = list(csv.DictReader((out / "table1.csv").open()))
    paper = {c.cell: c for c in mod.read_cells()}
    assert [r["cell"] for r in rows] == ["s90-full", "s95-topk-m0.1"]
    for r in rows:
        run_dir = Path(r["run_dir"])
        clients, rounds = _jsonl(run_dir / "trace.jsonl"), _jsonl(run_dir / "rounds.jsonl")
        assert float(r["accuracy_pct"]) == pytest.approx(rounds[-1]["test_accuracy"] * 100, abs=1e-3)
        assert float(r["paper_accuracy_pct"]) == paper[r["cell"]].paper_accuracy_pct
        n = len(clients)
        assert float(r["flops_sparse_per_client_round"]) == pytest.approx(
            sum(c["flops"]["sparse"]["total"] for c in clients) / n, rel=1e-9)
        assert float(r["upload_bytes_per_client_round"]) == pytest.approx(sum(c["bytes_up"] for c in clients) / n,
                                                                          abs=1)
        cfg = RunConfig.from_toml(run_dir / "config.toml")
        assert (cfg.sparsity, cfg.upload, cfg.mask_ratio) == (float(r["sparsity"]), r["upload"], float(r["mask_ratio"]))
    full, topk = rows
    assert float(full["upload_ratio_vs_dense"]) == 1.0 and float(topk["upload_ratio_vs_dense"]) < 0.5
    # a second invocation resumes the finished cells instead of failing on existing run directories
    assert mod.main(["--data-dir", str(cifar_dir), "--out", str(out), "--rounds", "1", "--cells", "s90-full",
                     *TINY]) == 0


@pytest.mark.parametrize("args,match", [
    (["--cells", "s99-full"], "unknown cell"),
    (["--set", "local_epoch=2"], "local_epoch"),
    (["--set", "oops"], "KEY=VALUE"),
    (["--rounds", "0"], "rounds"),
])
def test_table1_bad_input_is_one_line_exit_2_before_any_run(tmp_path, cifar_dir, capsys, args, match):
    out = tmp_path / "t1"
    assert _script().main(["--data-dir", str(cifar_dir), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and match in err[0], err
    assert not out.exists()


def test_table1_missing_data_dir_is_exit_2(tmp_path, capsys):
    assert _script().main(["--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "t1")]) == 2
    assert "not found" in capsys.readouterr().err
