"""The vocabulary is defined once: every registry keyed by one of its names matches it, and no
other module spells one of its lists itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from zerofl_profiler import vocab

PACKAGE = Path(vocab.__file__).parent
#: Name lists in vocab.py (every upper-case tuple of strings).
LISTS = {n: v for n, v in vars(vocab).items()
         if n.isupper() and isinstance(v, tuple) and v and all(isinstance(x, str) for x in v)}
#: Assignments that hold a deliberate subset of one list (a rule of their own, not a copy of it).
SUBSETS = {"REQUIRED_OP_CLASSES"}  # hardware_models/spec.py: the classes every device unit must state


def _spelled_lists(tree: ast.AST) -> list[tuple[int, list[str], str]]:
    """(line, names, vocab list) for every literal tuple/list/set of >= 2 distinct vocab names."""
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in SUBSETS for t in node.targets):
            allowed.add(id(node.value))
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Tuple, ast.List, ast.Set)) or id(node) in allowed:
            continue
        vals = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if len(vals) != len(node.elts) or len(set(vals)) < 2:
            continue
        for name, names in LISTS.items():
            if set(vals) <= set(names):
                hits.append((node.lineno, vals, name))
                break
    return hits


def test_no_module_spells_a_vocabulary_list() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "vocab.py":
            continue
        for line, vals, name in _spelled_lists(ast.parse(path.read_text(encoding="utf-8"))):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {vals} (use vocab.{name})")
    assert not found, "\n".join(found)


def test_the_scan_finds_a_copied_list() -> None:
    """The scan is not vacuous: a copy of a list, or of part of it, is caught."""
    src = 'UPLOADS = ("dense", "topk-weights")\nx = kind in ["gemm", "gemm_grouped"]\nok = ("read", "written")\n'
    hits = _spelled_lists(ast.parse(src))
    assert [(line, name) for line, _v, name in hits] == [(1, "UPLOADS"), (2, "OP_CLASSES")]


def test_fl_registries_match_vocab() -> None:
    from zerofl_profiler.fl.aggregate import AGGREGATORS
    from zerofl_profiler.fl.data import DATASETS
    from zerofl_profiler.fl.partition import PARTITIONS
    from zerofl_profiler.fl.uploads import UPLOADS

    assert tuple(DATASETS) == vocab.DATASETS
    assert tuple(n for n, s in DATASETS.items() if s.needs_data_dir) == vocab.DATA_DIR_DATASETS
    assert tuple(AGGREGATORS) == vocab.AGGREGATIONS
    assert tuple(PARTITIONS) == vocab.PARTITIONS
    assert tuple(UPLOADS) == vocab.UPLOADS


def test_encoding_registry_matches_vocab() -> None:
    from zerofl_profiler.encoding import ENCODINGS

    assert set(ENCODINGS) == set(vocab.ENCODINGS) and len(ENCODINGS) == len(vocab.ENCODINGS)


def test_energy_backends_match_vocab() -> None:
    from zerofl_profiler.power.base import BACKENDS, _load_builtin_backends

    _load_builtin_backends()
    # ``replay`` re-plays recorded readings under the measured source it names (tests only)
    assert set(BACKENDS) - {"replay"} == set(vocab.ENERGY_SOURCES) - {"none"}


def test_flop_formulas_and_device_files_use_vocab_op_classes() -> None:
    """Every op class a FLOP formula can give a row (a literal in flops/) and every class a
    shipped device file states is in vocab.OP_CLASSES."""
    used: set[str] = set()
    for path in (PACKAGE / "flops").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Cost" and node.args:
                a = node.args[0]
                if isinstance(a, ast.Constant):
                    used.add(a.value)
            if isinstance(node, ast.keyword) and node.arg == "op_class" and isinstance(node.value, ast.Constant):
                used.add(node.value.value)
    assert {"gemm", "elementwise", "pool", "topk_kept"} <= used  # the scan sees the formulas
    assert used <= set(vocab.OP_CLASSES)
    from zerofl_profiler.hardware_models.catalogue import load_catalogue

    stated = {c for d in load_catalogue().values() for u in d.units.values() for c in u.efficiency}
    assert stated and stated <= set(vocab.OP_CLASSES)


def test_counter_rows_carry_vocab_names() -> None:
    from torch import nn

    from zerofl_profiler.flops import count_training_step

    net = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 4, 3, groups=4), nn.Flatten(), nn.Linear(16, 3))
    rep = count_training_step(net, (3, 10, 10), 2, weight_sparsity=0.5, dense_layers=[])
    assert {r.op_class for r in rep.layers} <= set(vocab.OP_CLASSES)
    assert all(set(r.dense) == set(vocab.STEP_PHASES) for r in rep.layers)
    assert set(vocab.FLOP_KEYS) <= set(rep.trace_flops()["dense"])


@pytest.mark.parametrize(("numel", "density", "kept"), [
    (10, 0.25, 3),     # 2.5 rounds half up (Python's round would give 2)
    (6, 0.25, 2),      # 1.5 -> 2
    (10, 0.24, 2),     # 2.4 -> 2
    (1000, 0.0001, 1), # at least one entry: a layer never goes empty
    (7, 1.0, 7),       # at most numel
    (0, 0.5, 0),       # an empty tensor keeps nothing
])
def test_kept_count_rule(numel: int, density: float, kept: int) -> None:
    assert vocab.kept_count(numel, density) == kept


def test_one_kept_count_everywhere() -> None:
    """Masks, the counter's bytes and the costing's upload sizes all keep what training keeps."""
    import numpy as np
    import torch

    from zerofl_profiler.analysis.workload import upload_bytes
    from zerofl_profiler.fl.uploads import make_upload
    from zerofl_profiler.sparse.masks import keep_count, topk_mask

    assert keep_count is vocab.kept_count
    for numel, d in ((10, 0.25), (999, 0.1), (64, 0.01)):
        assert int(topk_mask(torch.randn(numel), d).sum()) == vocab.kept_count(numel, d)
    # the costing's closed-form upload size equals the engine's real encoded upload
    rng = np.random.default_rng(0)
    new = {"fc.weight": rng.standard_normal(10).astype(np.float32), "fc.bias": np.zeros(3, np.float32)}
    glob = {k: np.zeros_like(v) for k, v in new.items()}
    up = make_upload("topk-weights", new, glob, 0.75, 0.0, "csr", {"fc.weight"})
    assert up.nbytes == upload_bytes({k: (v.size, 4) for k, v in new.items()}, {"fc.weight"},
                                     sparsity=0.75, upload="topk-weights", encoding="csr")
    assert up.nbytes == 3 * 8 + 3 * 4  # 2.5 kept entries -> 3 (value + int32 index) + dense bias


def test_readers_of_a_run_are_torch_free() -> None:
    code = ("import sys, zerofl_profiler.config as c, zerofl_profiler.vocab, zerofl_profiler.traces, "
            "zerofl_profiler.traces.rundir, zerofl_profiler.analysis.summary, zerofl_profiler.analysis.estimate; "
            "c.RunConfig(); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
