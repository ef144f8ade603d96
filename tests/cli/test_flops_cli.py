"""``zerofl-profile flops``: JSON document shape, table, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from zerofl_profiler.cli import main
from zerofl_profiler.flops import count_training_step
from zerofl_profiler.models import build_model


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(["flops", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--model", "cnn", "--input-shape", "1,8,8", "--batch-size", "16",
                         "--weight-sparsity", "0.9", "--activation-sparsity", "0.5", "--json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert {"model", "batch_size", "input_shape", "weight_sparsity", "activation_sparsity", "layers", "totals",
            "uncounted", "flop_reduction"} <= set(doc)
    assert (doc["model"], doc["batch_size"], doc["input_shape"]) == ("cnn", 16, [1, 8, 8])
    assert (doc["weight_sparsity"], doc["activation_sparsity"]) == (0.9, 0.5)
    for row in doc["layers"]:
        assert {"name", "type", "op_class", "dense", "sparse", "bytes"} <= set(row)
        for kind in ("dense", "sparse"):
            assert {"forward", "backward_input", "backward_weight"} <= set(row[kind])
            assert all(isinstance(v, int) for v in row[kind].values())
    for kind in ("dense", "sparse"):
        assert {"forward", "backward_input", "backward_weight", "total"} <= set(doc["totals"][kind])
    # the same numbers as the library
    rep = count_training_step(build_model("cnn", 10, (1, 8, 8)), (1, 8, 8), 16, weight_sparsity=0.9,
                              activation_sparsity=0.5, model_name="cnn")
    assert doc == json.loads(json.dumps(rep.to_json()))


def test_sparsity_sets_both_and_dense_layers_replace(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--model", "cnn", "--sparsity", "0.8", "--dense-layers", "9", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["weight_sparsity"] == doc["activation_sparsity"] == 0.8
    assert doc["dense_layers"] == ["9"]
    rows = {(r["name"], r["type"]): r for r in doc["layers"]}
    assert rows[("0", "Conv2d")]["sparsified"] and not rows[("9", "Linear")]["sparsified"]


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--model", "lenet", "--sparsity", "0.9")
    assert code == 0
    assert "Conv2d" in out and "<optimizer>" in out and "total" in out
    assert "flop_reduction" in out


@pytest.mark.parametrize("args,match", [
    (["--weight-sparsity", "1.0"], "weight sparsity"),
    (["--sparsity", "-0.1"], "sparsity"),
    (["--activation-sparsity", "1.5"], "activation sparsity"),
    (["--input-shape", "3,a,32"], "malformed input shape"),
    (["--input-shape", "3,0,32"], "malformed input shape"),
    (["--model", "nonexistent"], "unknown model"),
    (["--model", "no/such/file.py:make", "--input-shape", "3,8,8"], "no such file"),
    (["--model", "no_such_mod_xyz:make", "--input-shape", "3,8,8"], "cannot load model"),
    (["--model", "cnn", "--dense-layers", "nope"], "unknown dense layer"),
    (["--model", "cnn", "--batch-size", "0"], "batch-size"),
    (["--model", "cnn", "--dtype", "float7"], "dtype"),
    (["--model", "cnn", "--optimizer", "rmsprop"], "optimizer"),
    (["--batch-size", "x"], "batch-size"),
])
def test_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], match: str) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2, err
    assert out == ""
    assert err.startswith("error: ") and err.strip().count("\n") == 0 and match in err
    assert "Traceback" not in err


def test_custom_file_model_needs_shape(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("from torch import nn\ndef make(num_classes=10):\n"
                 "    return nn.Sequential(nn.Flatten(), nn.Linear(12, num_classes))\n")
    code, _, err = run(capsys, "--model", f"{f}:make")
    assert code == 2 and "--input-shape" in err
    code, out, _ = run(capsys, "--model", f"{f}:make", "--input-shape", "3,2,2", "--json")
    assert code == 0 and json.loads(out)["layers"][0]["type"] == "Linear"
    code, out, err = run(capsys, "--model", f"{f}:make", "--input-shape", "3,4,4")
    assert code == 2 and out == "" and "does not run on input" in err and err.count("\n") == 1


def test_subprocess_json_stdout_is_clean() -> None:
    p = subprocess.run([sys.executable, "-m", "zerofl_profiler", "flops", "--model", "cnn", "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["model"] == "cnn"


GOLDEN = Path(__file__).parent / "golden" / "flops_lenet_s0.9_b8.txt"


def test_table_golden(capsys: pytest.CaptureFixture[str]) -> None:
    """The table is a product: compare with the reviewed golden file (ZEROFL_UPDATE_GOLDEN=1 rewrites it)."""
    import os

    code, out, _ = run(capsys, "--model", "lenet", "--sparsity", "0.9", "--batch-size", "8")
    assert code == 0
    if os.environ.get("ZEROFL_UPDATE_GOLDEN"):
        GOLDEN.write_text(out)
    assert out == GOLDEN.read_text()
