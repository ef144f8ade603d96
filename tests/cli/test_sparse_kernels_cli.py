"""`train --sparse-kernels` / `--mask-structure`: auto follows the host's measured curve; bad input is one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from zerofl_profiler.hardware_models.catalogue import _catalogue_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _run_cli import run  # noqa: E402

TINY = ("--rounds", "1", "--clients", "2", "--clients-per-round", "1", "--local-epochs", "1", "--quiet")


def _host_with_curve(tmp_path: Path, efficiency: str, kind: str = "measured") -> Path:
    """The shipped host file plus a sparse-efficiency curve over densities 0.01, 0.05, 0.1."""
    text = _catalogue_files()["host"].read_text(encoding="utf-8").replace("schema = 1", "schema = 2")
    line = 'sparse_efficiency = {value = 0.0, source = "sparse"}'
    assert line in text
    text = text.replace(line, line + f'\nsparse_efficiency_curve = {{density = [0.01, 0.05, 0.1], efficiency = '
                                      f'[{efficiency}], source = {{kind = "{kind}", ref = "test", quote = "test"}}}}')
    p = tmp_path / "host.toml"
    p.write_text(text, encoding="utf-8")
    return p


def _kernel_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("sparse kernels auto:")]


@pytest.mark.parametrize("sparsity, kernel", [(0.99, "csr"), (0.9, "dense")])
def test_auto_uses_csr_only_below_the_hosts_measured_break_even(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        sparsity: float, kernel: str) -> None:
    monkeypatch.setenv("ZEROFL_HOST_DEVICE", str(_host_with_curve(tmp_path, "0.3, 0.0, 0.0")))
    r = run(capsys, "train", *TINY, "--sparsity", str(sparsity), "--sparse-kernels", "auto",
            "--out", str(tmp_path / "run"))
    assert r.code == 0, r.err
    lines = _kernel_lines(r.err)
    assert len(lines) == 1, r.err  # said once per run
    assert "beats dense at density <= 0.01" in lines[0]
    assert f"; {kernel}: " in lines[0] and ("csr: " in lines[0]) == (kernel == "csr")


@pytest.mark.parametrize("curve", [None, ("0.0, 0.0, 0.0", "measured"), ("0.5, 0.2, 0.1", "assumption")])
def test_auto_without_a_measured_speed_up_keeps_every_layer_dense_and_says_why_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        curve: tuple[str, str] | None) -> None:
    host = _catalogue_files()["host"] if curve is None else _host_with_curve(tmp_path, *curve)
    monkeypatch.setenv("ZEROFL_HOST_DEVICE", str(host))
    r = run(capsys, "train", *TINY, "--sparsity", "0.99", "--sparse-kernels", "auto", "--out", str(tmp_path / "run"))
    assert r.code == 0, r.err
    lines = _kernel_lines(r.err)
    assert len(lines) == 1 and "csr: " not in lines[0] and "; dense: " in lines[0], r.err
    why = {None: "has no sparse_efficiency_curve", "measured": "beat dense at no density",
           "assumption": "is assumption, not measured"}[None if curve is None else curve[1]]
    assert why in lines[0]


@pytest.mark.parametrize("args, message", [
    (("--sparse-kernels", "cusparse"), "sparse_kernels must be one of off, auto, csr, semi-structured"),
    (("--mask-structure", "3:4", "--sparsity", "0.5"), "mask_structure must be one of unstructured, 2:4"),
    (("--mask-structure", "2:4", "--sparsity", "0.9"), "weight sparsity must be 0.5, got 0.9"),
    (("--mask-structure", "2:4", "--sparsity", "0.5", "--dense-layers", "none"),
     "layer '0': a 2:4 mask needs a reduction dimension that is a multiple of 4, got 9"),
    pytest.param(("--sparse-kernels", "semi-structured", "--mask-structure", "2:4", "--sparsity", "0.5"),
                 "--sparse-kernels semi-structured needs a CUDA GPU",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")),
])
def test_bad_sparse_kernel_input_is_one_line_exit_2_and_no_run_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str) -> None:
    out = tmp_path / "run"
    r = run(capsys, "train", "--rounds", "1", "--clients", "2", "--clients-per-round", "1", "--local-epochs", "1",
            *args, "--out", str(out))
    assert r.code == 2, r.err
    assert len(r.err.strip().splitlines()) == 1 and message in r.err, r.err
    assert not out.exists()
