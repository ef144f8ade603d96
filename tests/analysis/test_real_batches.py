"""Every part of a client-round is priced from the batches that ran, whatever the nominal batch."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from _run_cli import run  # noqa: E402

from zerofl_profiler.fl.engine import clamped_batch_warning  # noqa: E402
from zerofl_profiler.hardware_models.workload import from_layers  # noqa: E402


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    r = run(capsys, *args)
    return r.code, r.out, r.err


def _flatten(doc: object, path: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.update(_flatten(v, f"{path}.{k}"))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.update(_flatten(v, f"{path}[{i}]"))
    elif isinstance(doc, float):
        out[path] = doc
    return out


@pytest.mark.slow
def test_clamped_batch_prices_the_batches_that_ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--batch-size 100000 and 2000 on clients of ~480 samples run the same batches: same prices.

    The run at --batch-size 480 counts layers.json at (almost) the batch that really ran, so it is
    the independent reference for both.
    """
    docs = {}
    for b in (100000, 2000, 480):
        out = tmp_path / f"b{b}"
        code, _, err = _cli(capsys, "train", "--model", "cnn", "--clients", "3", "--clients-per-round", "3",
                            "--rounds", "1", "--local-epochs", "1", "--batch-size", str(b), "--iid",
                            "--sparsity", "0.9", "--energy", "none", "--quiet", "--seed", "1", "--out", str(out))
        assert code == 0, err
        assert err.count("are clamped to the client's data") == 1  # warned once
        recs = [json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()]
        assert all(max(r["batch_sizes"]) <= 480 for r in recs)
        code, doc, err = _cli(capsys, "estimate", str(out), "--device", "jetson-nano", "--device", "h100",
                              "--network", "lte", "--json")
        assert code == 0, err
        docs[b] = _flatten(json.loads(doc)["devices"])
    ref = docs[480]
    for b in (100000, 2000):
        assert docs[b].keys() == ref.keys()
        for k, v in ref.items():
            assert math.isclose(docs[b][k], v, rel_tol=1e-6, abs_tol=1e-15), (b, k, docs[b][k], v)


def test_clamped_batch_warning_names_the_smallest_client() -> None:
    assert clamped_batch_warning(32, [100, 64]) is None
    msg = clamped_batch_warning(1000, [300, 480, 2000])
    assert msg is not None and "2 of 3 clients" in msg and "300 samples" in msg and "\n" not in msg


LAYER_DOC = {"batch_size": 10, "optimizer": "sgd", "layers": [
    {"name": "fc", "type": "Linear", "op_class": "gemm", "sparsified": True,
     "density": {"weight": 0.5, "activation": 0.5},
     "dense": {"forward": 1000, "backward_input": 1000, "backward_weight": 1000, "update": 0},
     "sparse": {"forward": 500, "backward_input": 500, "backward_weight": 500, "update": 0},
     "bytes": {"dtype_bytes": 4, "weights": 400, "input": 40, "output": 40,
               "dense": {"forward": {"read": 440, "written": 40}, "backward_input": {"read": 440, "written": 40},
                         "backward_weight": {"read": 80, "written": 400}}}},
    {"name": "fc", "type": "topk", "op_class": "topk", "dense": {"forward": 0}, "sparse": {"forward": 330},
     "bytes": {"sparse": {"forward": {"read": 440, "written": 20}}}},
    {"name": "<optimizer>", "type": "sgd", "op_class": "optimizer", "dense": {"update": 200},
     "sparse": {"update": 200}, "bytes": {"dense": {"update": {"read": 800, "written": 400}}}}]}


def test_step_at_another_batch_by_hand() -> None:
    """Half the batch: FLOPs halve except the update; weight bytes stay; top-k splits W : X = 100 : 10."""
    step = from_layers(LAYER_DOC)
    rows = step.at_batch(5)
    assert rows.flops_dense.tolist() == [500, 500, 500, 200]
    # forward 400 weight + 80 activation bytes -> 400 + 40; backward_weight writes the 400 B gradient
    assert rows.nbytes.tolist() == [440, 440, 440, 1200]
    # the top-k row: 100 weight elements (fixed) and 10 input elements (halved) -> 330 x (100 + 5) / 110
    assert rows.topk_flops[0] == pytest.approx(330 * 105 / 110)
    assert step.memory_at(5).activations_bytes == pytest.approx(20)
    same = step.at_batch(10)
    assert np.array_equal(same.nbytes, step.nbytes) and np.array_equal(same.topk_flops, step.topk_flops)
