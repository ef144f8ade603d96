"""--eval-every and --eval-mode record what they say; readers (summary, report, plots) take null accuracies."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from zerofl_profiler.cli import main
from zerofl_profiler.fl.checkpoint import load_checkpoint
from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.data import load_dataset
from zerofl_profiler.fl.engine import run
from zerofl_profiler.fl.worker import build_dense, load_numpy_state

SMALL = dict(clients=4, clients_per_round=2, batch_size=128, local_epochs=1, energy="none", eval_batch_size=100)
SCORES = ("test_accuracy", "test_loss", "test_accuracy_sparse", "test_loss_sparse", "test_accuracy_dense",
          "test_loss_dense")


def _rounds(out):
    return [json.loads(x) for x in (out / "rounds.jsonl").read_text().splitlines()]


def _numpy_topk(w: np.ndarray, density: float) -> np.ndarray:
    """Independent top-k: keep the round(density * n) largest |w| (at least one), zero the rest."""
    flat = w.ravel()
    k = max(1, min(flat.size, int(math.floor(density * flat.size + 0.5))))
    keep = np.argsort(-np.abs(flat), kind="stable")[:k]
    out = np.zeros_like(flat)
    out[keep] = flat[keep]
    return out.reshape(w.shape)


def _hand_accuracy(cfg: RunConfig, state: dict, sparse: bool) -> float:
    """Accuracy of a plain dense model loaded with ``state`` (top-k'd by numpy when ``sparse``)."""
    _, test = load_dataset(cfg.dataset)
    model = build_dense(cfg, test.input_shape, test.num_classes)
    state = dict(state)
    if sparse:  # every conv/linear weight but the first conv (kept dense by default)
        gemm = [n for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        for name in gemm[1:]:
            state[f"{name}.weight"] = _numpy_topk(state[f"{name}.weight"], 1 - cfg.sparsity)
    load_numpy_state(model, state)
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(test.x)).argmax(1).numpy()
    return float((pred == test.y).mean())


@pytest.mark.slow
def test_eval_every_leaves_nulls_and_always_evaluates_the_last_round(tmp_path):
    cfg = RunConfig(**SMALL, rounds=5, eval_every=2)
    summary = run(cfg, tmp_path / "run", progress=False)
    recs = _rounds(tmp_path / "run")
    assert [r["round"] for r in recs] == [1, 2, 3, 4, 5]
    for r in recs:
        evaluated = r["round"] in (2, 4, 5)
        assert (r["test_accuracy"] is not None) == evaluated, r
        if not evaluated:
            assert all(r[k] is None for k in SCORES)
        else:
            assert r["test_accuracy"] == r["test_accuracy_sparse"] and r["test_accuracy_dense"] is None
    assert summary.final_accuracy == recs[-1]["test_accuracy"]
    assert summary.best_accuracy == max(r["test_accuracy"] for r in recs if r["test_accuracy"] is not None)
    # the last round's accuracy is the final model's, recomputed independently
    state = load_checkpoint(tmp_path / "run").global_state
    assert recs[-1]["test_accuracy"] == pytest.approx(_hand_accuracy(cfg, state, sparse=True), abs=1e-9)


@pytest.mark.parametrize("mode", ["both", "dense"])
def test_eval_modes_record_each_model_under_its_own_name(tmp_path, mode):
    cfg = RunConfig(**SMALL, rounds=2, eval_mode=mode, sparsity=0.95)
    run(cfg, tmp_path / "run", progress=False)
    last = _rounds(tmp_path / "run")[-1]
    state = load_checkpoint(tmp_path / "run").global_state
    dense_acc = _hand_accuracy(cfg, state, sparse=False)
    assert last["test_accuracy_dense"] == pytest.approx(dense_acc, abs=1e-9)
    if mode == "both":
        sparse_acc = _hand_accuracy(cfg, state, sparse=True)
        assert last["test_accuracy_sparse"] == pytest.approx(sparse_acc, abs=1e-9)
        assert last["test_accuracy"] == last["test_accuracy_sparse"]
        assert last["test_loss"] == last["test_loss_sparse"] != last["test_loss_dense"]
    else:
        assert last["test_accuracy_sparse"] is None and last["test_loss_sparse"] is None
        assert last["test_accuracy"] == last["test_accuracy_dense"]
    assert f'eval_mode = "{mode}"' in (tmp_path / "run" / "config.toml").read_text()


@pytest.mark.slow
def test_report_plot_and_summary_read_runs_with_unevaluated_rounds(tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", "--out", str(out), "--rounds", "3", "--eval-every", "2", "--clients", "4",
          "--clients-per-round", "2", "--local-epochs", "1", "--batch-size", "128", "--energy", "none", "--json"])
    summary = json.loads(capsys.readouterr().out)
    recs = _rounds(out)
    assert recs[0]["test_accuracy"] is None and recs[1]["test_accuracy"] is not None
    assert summary["final_accuracy"] == recs[2]["test_accuracy"]
    main(["report", str(out), "--format", "json"])
    rep = json.loads(capsys.readouterr().out)
    assert rep["runs"][0]["final_accuracy"] == recs[2]["test_accuracy"]
    main(["report", str(out), "--target-accuracy", "0.01"])
    assert "n/a" not in capsys.readouterr().out.split("round reaching")[1].splitlines()[0]
    main(["plot", str(out), "--out", str(tmp_path / "figs"), "--figure", "accuracy"])
    capsys.readouterr()
    assert any((tmp_path / "figs").iterdir())
    # resuming the finished run re-summarises it with the same final accuracy
    main(["train", "--out", str(out), "--resume", "--json"])
    assert json.loads(capsys.readouterr().out)["final_accuracy"] == recs[2]["test_accuracy"]
