"""`zerofl-profile train`: one-line errors before any work, and the offline default learns."""

from __future__ import annotations

import json

import pytest

from zerofl_profiler.cli import main


def _fail(argv, capsys) -> str:
    with pytest.raises(SystemExit) as ei:
        main(argv)
    err = capsys.readouterr().err
    assert ei.value.code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


@pytest.mark.parametrize("args,match", [
    (["--sparsity", "1.0"], "sparsity"),
    (["--sparsity", "-0.5"], "sparsity"),
    (["--mask-ratio", "0.1", "--upload", "dense"], "mask ratio"),
    (["--clients", "3", "--clients-per-round", "5"], "exceeds"),
    (["--dataset", "cifar10"], "data-dir"),
    (["--dataset", "cifar10", "--data-dir", "/no/such/dir"], "not found"),
    (["--alpha", "0.5", "--iid"], "exclude"),
    (["--upload", "gzip"], "upload"),
    (["--eval-every", "0"], "eval_every must be a positive integer"),
    (["--eval-mode", "half"], "half"),
    (["--augment"], "augmentation does not apply to data set 'digits'"),
    (["--weight-decay", "-0.1"], "weight_decay must be a non-negative number"),
    (["--eval-batch-size", "0"], "eval_batch_size"),
    (["--mask-schedule", "frozen"], "mask_schedule must be one of fixed-positions, swat-threshold"),
    (["--mask-every", "0"], "mask_every must be a positive integer"),
])
def test_bad_options_fail_before_any_work(tmp_path, capsys, args, match):
    out = tmp_path / "run"
    line = _fail(["train", "--out", str(out), *args], capsys)
    assert match in line
    assert not out.exists()


def test_unknown_config_key_and_existing_dir(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("rounds = 1\nlocal_epoch = 2\n")
    assert "local_epoch" in _fail(["train", "--config", str(cfg), "--out", str(tmp_path / "r")], capsys)
    existing = tmp_path / "exists"
    existing.mkdir()
    (existing / "x").write_text("x")
    assert "--resume" in _fail(["train", "--out", str(existing)], capsys)
    assert "does not exist" in _fail(["train", "--out", str(tmp_path / "nope"), "--resume"], capsys)
    assert "config.toml" in _fail(["train", "--out", str(existing), "--resume"], capsys)


@pytest.mark.slow
def test_default_run_learns_offline(tmp_path, capsys):
    """With only --out: digits + cnn + 90 % SWAT sparsity reaches >= 80 % held-out accuracy."""
    out = tmp_path / "run"
    main(["train", "--out", str(out), "--json"])
    summary = json.loads(capsys.readouterr().out)
    rounds = [json.loads(line) for line in (out / "rounds.jsonl").read_text().splitlines()]
    assert summary["rounds_completed"] == len(rounds) == summary["rounds_total"]
    assert rounds[-1]["test_accuracy"] >= 0.80
    assert summary["final_accuracy"] == rounds[-1]["test_accuracy"]
    assert summary["flops_sparse"] < 0.5 * summary["flops_dense"]
    # resuming a finished run prints its summary and exits 0
    main(["train", "--out", str(out), "--resume", "--json"])
    again = json.loads(capsys.readouterr().out)
    assert again["already_finished"] and again["final_accuracy"] == summary["final_accuracy"]
    assert "rounds" in _fail(["train", "--out", str(out), "--resume", "--rounds", "99"], capsys)


def test_split_sparsity_flags_and_config_file(tmp_path):
    from zerofl_profiler.cli.train import build_config

    f = tmp_path / "c.toml"
    f.write_text("sparsity = 0.8\nrounds = 3\n")
    opts = {"activation_sparsity": 0.5, "rounds": 4, "iid": True}
    cfg = build_config(str(f), str(tmp_path / "r"), False, opts)
    assert (cfg.sparsity, cfg.activation_sparsity, cfg.rounds, cfg.partition) == (0.8, 0.5, 4, "iid")
    cfg = build_config(None, str(tmp_path / "r"), False, {"sparsity": 0.95, "dense_layers": ""})
    assert cfg.act_sparsity == 0.95 and cfg.dense_layers == ()
