"""Property-based hostile input through the real CLI entry point (click's runner around ``main``).

For every parser and command entry point, whatever the input: the exit code is 0, 1 or 2; a
failure is exactly one line on stderr; no traceback; no partially written output file; and any
JSON printed is one whole document without NaN or Infinity. The number of examples comes from the
hypothesis profile (tests/conftest.py): ``ci`` keeps the whole suite well under 60 s, ``long`` is
for local runs (HYPOTHESIS_PROFILE=long).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from zerofl_profiler.cli import main
from zerofl_profiler.traces.atomic import TMP_PREFIX

PKG = Path(__file__).resolve().parents[2] / "zerofl_profiler" / "hardware_models"
TINY = ["--rounds", "1", "--clients", "2", "--clients-per-round", "2", "--quiet"]


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    code: int
    out: str
    err: str


def invoke(*argv: str) -> Outcome:
    """Run ``zerofl-profile ARGV`` in-process with click's runner capturing stdout and stderr apart."""
    runner = CliRunner()
    with runner.isolation() as streams:
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Outcome(tuple(argv), code, streams[0].getvalue().decode("utf-8", "replace"),
                   streams[1].getvalue().decode("utf-8", "replace"))


def check(r: Outcome, *, json_out: bool = False, outputs: tuple[Path, ...] = ()) -> Outcome:
    """The contract every command keeps, whatever it was given."""
    where = f"argv={list(r.argv)!r}\nstderr={r.err[-2000:]!r}"
    assert r.code in (0, 1, 2), where
    assert "Traceback" not in r.err and "Traceback" not in r.out, where
    if r.code != 0:
        lines = [ln for ln in r.err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), where
    if json_out and r.code == 0:
        json.loads(r.out, parse_constant=lambda c: pytest.fail(f"{c} in JSON output; {where}"))
    if json_out and r.code != 0:
        assert r.out == "", where  # nothing half-printed
    for p in outputs:
        if r.code != 0:
            assert not p.exists(), f"partial output {p} left; {where}"
        leftovers = [q.name for q in p.parent.glob("*") if q.name.startswith(TMP_PREFIX)] if p.parent.is_dir() else []
        assert leftovers == [], f"temporaries {leftovers}; {where}"
    return r


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder per example (hypothesis runs many examples in one test call)."""
    d = Path(tempfile.mkdtemp(prefix="zerofl-fuzz-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)




# ---------------------------------------------------------------------------------------- values
HOSTILE_TOKENS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" + "0" * 5000, "1e-400", "-0",
                  "[" * 5000, "{" * 3000, '"\\ud800"', "\"" + "x" * 20000 + "\""]
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
JSON_VALUES = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                           max_leaves=6)
TOML_SCALARS = (st.booleans() | st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
TOML_VALUES = st.recursive(TOML_SCALARS, lambda c: st.lists(c, max_size=3)
                           | st.dictionaries(st.text(min_size=1, max_size=6), c, max_size=3), max_leaves=6)


def leaf_paths(obj, prefix=()):
    """Every path to a value inside nested dicts/lists (containers included)."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaf_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaf_paths(v, prefix + (i,))


def set_path(obj, path, value):
    if not path:
        return value
    cur = obj
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return obj


def del_path(obj, path):
    if not path:
        return obj
    cur = obj
    for k in path[:-1]:
        cur = cur[k]
    del cur[path[-1]]
    return obj


@st.composite
def mutated_json_text(draw, doc: dict) -> str:
    """A valid document with one field replaced, deleted or added, or raw text damage."""
    doc = json.loads(json.dumps(doc))
    kind = draw(st.sampled_from(["replace", "token", "delete", "add", "truncate", "binary", "wrong-type-root"]))
    paths = list(leaf_paths(doc))[1:]
    if kind == "replace":
        return json.dumps(set_path(doc, draw(st.sampled_from(paths)), draw(JSON_VALUES)))
    if kind == "token":
        return json.dumps(set_path(doc, draw(st.sampled_from(paths)), "@@TOKEN@@")).replace(
            '"@@TOKEN@@"', draw(st.sampled_from(HOSTILE_TOKENS)))
    if kind == "delete":
        return json.dumps(del_path(doc, draw(st.sampled_from(paths))))
    if kind == "add":
        doc[draw(st.text(max_size=8))] = draw(JSON_VALUES)
        return json.dumps(doc)
    text = json.dumps(doc)
    if kind == "truncate":
        return text[: draw(st.integers(min_value=0, max_value=len(text) - 1))]
    if kind == "binary":
        return draw(st.binary(min_size=1, max_size=300)).decode("latin-1")
    return json.dumps(draw(JSON_VALUES))


# ---------------------------------------------------------------------------------------- traces
@given(data=st.data())
def test_fuzz_trace_lines(finished_run, data):
    """A run whose trace.jsonl or rounds.jsonl has one hostile line: report and estimate keep the contract."""
    name = data.draw(st.sampled_from(["trace.jsonl", "rounds.jsonl"]))
    with scratch() as d:
        run = d / "run"
        shutil.copytree(finished_run, run)
        lines = (run / name).read_text().splitlines()
        i = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
        lines[i] = data.draw(mutated_json_text(json.loads(lines[i])))
        (run / name).write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + b"\n")
        out = d / "r.json"
        check(invoke("report", str(run), "--format", "json", "--out", str(out)), outputs=(out,))
        check(invoke("estimate", str(run), "--device", "host", "--json"), json_out=True)


# ---------------------------------------------------------------------------------------- device / network TOML
def _toml_doc(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


@st.composite
def mutated_toml_text(draw, doc: dict) -> str:
    doc = json.loads(json.dumps(doc))
    kind = draw(st.sampled_from(["replace", "replace", "delete", "add", "truncate", "binary", "deep"]))
    paths = list(leaf_paths(doc))[1:]
    if kind == "deep":
        n = draw(st.integers(min_value=1, max_value=120_000))
        return "x = " + "[" * n + "]" * n + "\n"
    if kind == "binary":
        return draw(st.binary(min_size=1, max_size=300)).decode("latin-1")
    if kind == "replace":
        doc = set_path(doc, draw(st.sampled_from(paths)), draw(TOML_VALUES))
    elif kind == "delete":
        doc = del_path(doc, draw(st.sampled_from(paths)))
    elif kind == "add":
        doc[draw(st.text(min_size=1, max_size=8))] = draw(TOML_VALUES)
    text = tomli_w.dumps(doc)
    if kind == "truncate":
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    return text


@given(data=st.data())
def test_fuzz_device_file(finished_run, data):
    base = _toml_doc(PKG / "catalogue" / data.draw(st.sampled_from(["jetson-nano.toml", "host.toml", "t4.toml"])))
    text = data.draw(mutated_toml_text(base))
    with scratch() as d:
        f = d / "dev.toml"
        f.write_bytes(text.encode("utf-8", "surrogatepass"))
        check(invoke("estimate", str(finished_run), "--device-file", str(f), "--json"), json_out=True)
        check(invoke("compare", "--model", "cnn", "--device-file", str(f), "--json"), json_out=True)


@given(data=st.data())
def test_fuzz_network_file(finished_run, data):
    base = _toml_doc(PKG / "networks" / data.draw(st.sampled_from(["wifi.toml", "lte.toml", "5g.toml"])))
    text = data.draw(mutated_toml_text(base))
    with scratch() as d:
        f = d / "net.toml"
        f.write_bytes(text.encode("utf-8", "surrogatepass"))
        check(invoke("estimate", str(finished_run), "--device", "host", "--network", str(f), "--json"),
              json_out=True)


# ---------------------------------------------------------------------------------------- config TOML
CONFIG_KEYS = ["dataset", "data_dir", "model", "clients", "clients_per_round", "rounds", "local_epochs", "batch_size",
               "lr_start", "lr_end", "momentum", "weight_decay", "sparsity", "activation_sparsity", "mask_every",
               "dense_layers", "upload", "mask_ratio", "encoding", "aggregation", "partition", "alpha", "seed",
               "on_client_error", "engine", "energy", "eval_batch_size", "threads", "name", "run_id", "nonsense"]
#: Flags pin what would make a valid config slow (or start Ray); the config file supplies the rest.
PINNED = ["--rounds", "1", "--clients", "2", "--clients-per-round", "2", "--local-epochs", "1", "--batch-size", "64",
          "--dataset", "digits", "--model", "cnn", "--engine", "inprocess", "--energy", "none", "--threads", "1",
          "--seed", "0"]


@given(doc=st.dictionaries(st.sampled_from(CONFIG_KEYS), TOML_VALUES, max_size=4),
       damage=st.sampled_from(["none", "none", "truncate", "deep", "binary"]), cut=st.integers(0, 200))
def test_fuzz_config_file(doc, damage, cut):
    text = tomli_w.dumps(doc)
    if damage == "truncate":
        text = text[:cut]
    elif damage == "deep":
        text = "x = " + "[" * 100_000 + "]" * 100_000 + "\n"
    elif damage == "binary":
        text = "\udcff\udcfe" + text
    with scratch() as d:
        f = d / "run.toml"
        f.write_bytes(text.encode("utf-8", "surrogateescape"))
        run = d / "run"
        r = check(invoke("train", "--config", str(f), *PINNED, "--json", "--out", str(run)), json_out=True)
        if r.code == 2:
            assert not run.exists(), "bad input must be refused before anything is written"


# ---------------------------------------------------------------------------------------- --device-mix
MIX_ALPHABET = st.sampled_from(["host", "t4", "jetson-nano", "jetson-nano@5W", "nope", "=", ",", "0", "1", ".", "5",
                                "-", "e", "inf", "nan", " ", "@", "1e309", "0.5", "%", "", "h100"])


@given(parts=st.lists(MIX_ALPHABET, max_size=10))
def test_fuzz_device_mix(finished_run, parts):
    check(invoke("estimate", str(finished_run), "--device-mix", "".join(parts), "--json"), json_out=True)


# ---------------------------------------------------------------------------------------- model specs
SAFE_MODULES = ["zerofl_profiler.models", "zerofl_profiler.models.cnn", "zerofl_profiler.errors", "json", "math",
                "no_such_module_zz", "zerofl_profiler", "", ".", "..", "a.b.c"]
FILE_BODIES = ["import sys\nsys.exit(4)\n", "raise ValueError('boom')\n", "def f(**kw):\n    return 3\n",
               "x = (\n", "def f(**kw):\n    raise SystemExit('bye')\n", "\x00\x01binary",
               "from torch import nn\ndef f(num_classes=10, **kw):\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))\n",
               "def f(**kw):\n    return f(**kw)\n", "import os\nf = 5\n"]


@given(kind=st.sampled_from(["builtin", "module", "file", "text"]), module=st.sampled_from(SAFE_MODULES),
       attr=st.sampled_from(["cnn", "f", "BadInputError", "loads", "pi", "", "x.y", "__name__"]) | st.text(max_size=6),
       body=st.sampled_from(FILE_BODIES), text=st.text(max_size=20),
       shape=st.sampled_from(["1,8,8", "3,x,32", "0,8,8", "1,8", "", "1x8x8", "-1,8,8", "99999999999,1,1"]))
def test_fuzz_model_spec(kind, module, attr, body, text, shape):
    with scratch() as d:
        if kind == "builtin":
            spec = text[:3] + "cnn" if text else "cnn"
        elif kind == "module":
            spec = f"{module}:{attr}"
        elif kind == "file":
            f = d / "m.py"
            f.write_text(body, encoding="utf-8", errors="surrogateescape")
            spec = f"{f}:{attr or 'f'}"
        else:
            spec = text
        argv = ["flops", "--model", spec, "--json"] + (["--input-shape", shape] if shape else [])
        check(invoke(*argv), json_out=True)


# ---------------------------------------------------------------------------------------- argv
WORDS = st.sampled_from(["--device", "--device-file", "--network", "--device-mix", "--json", "--format", "--out",
                         "--sparsity", "--weight-sparsity", "--activation-sparsity", "--batch-size", "--steps",
                         "--model", "--input-shape", "--target-accuracy", "--help", "--num-classes", "--upload",
                         "--encoding", "--mask-ratio", "host", "t4", "wifi", "lte", "cnn", "lenet", "md", "json",
                         "html", "0.9", "1.5", "-1", "nan", "inf", "0", "1e400", "3,x,32", "host=1", "=", "--",
                         "show", "list", "@RUN", "@OUT", "\x00", "é", "-", ""])


@given(cmd=st.sampled_from(["flops", "devices", "estimate", "compare", "report", "nosuch", ""]),
       words=st.lists(WORDS | st.text(max_size=8), max_size=8))
def test_fuzz_argv(finished_run, cmd, words):
    with scratch() as d:
        out = d / "out.file"
        argv = [cmd] + [str(finished_run) if w == "@RUN" else str(out) if w == "@OUT" else w for w in words]
        if cmd == "flops" and "--model" not in argv:
            argv += ["--model", "cnn"]  # resnet18 is the default: correct, but slow for a fuzz loop
        r = check(invoke(*argv), json_out="--json" in argv and "--help" not in argv and "--out" not in argv,
                  outputs=(out,) if "@OUT" in words else ())
        if r.code != 0:
            assert not out.exists()
