"""Loading user models from ``pkg.module:factory`` and ``path/to/file.py:factory``."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.models import build_model, default_input_shape

SRC = '''
from torch import nn

def make(num_classes=10, input_shape=(3, 8, 8)):
    return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0] * input_shape[1] * input_shape[2], num_classes))

def bare():
    return nn.Linear(4, 2)

def kw_only(**kw):
    return nn.Linear(kw["input_shape"][0], kw["num_classes"])

def not_a_model(num_classes=10):
    return 42

def boom():
    raise RuntimeError("factory exploded\\nsecond line")

class Holder:
    factory = staticmethod(bare)
'''


@pytest.fixture()
def user_file(tmp_path: Path) -> Path:
    p = tmp_path / "my_models.py"
    p.write_text(SRC)
    return p


def test_file_factory_gets_num_classes_and_shape(user_file: Path) -> None:
    m = build_model(f"{user_file}:make", 5, (2, 3, 3))
    assert isinstance(m, nn.Module) and m[1].in_features == 18 and m[1].out_features == 5


def test_factory_without_arguments_and_kwargs(user_file: Path) -> None:
    assert isinstance(build_model(f"{user_file}:bare", 3), nn.Linear)
    assert build_model(f"{user_file}:kw_only", 3, (6,)).out_features == 3
    assert isinstance(build_model(f"{user_file}:Holder.factory"), nn.Linear)


def test_module_factory(user_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(user_file.parent))
    m = build_model("my_models:make", 4, (1, 2, 2))
    assert m[1].out_features == 4


@pytest.mark.parametrize("spec,match", [
    ("nope", "unknown model"),
    ("no_such_pkg_xyz.mod:make", "cannot load model"),
    ("/no/such/file.py:make", "no such file"),
    ("{file}:missing", "has no attribute"),
    ("{file}:not_a_model", "not a torch.nn.Module"),
    ("{file}:boom", "factory exploded"),
    ("{file}:", "must be a built-in name"),
    ("{bad}:make", "cannot load model"),
])
def test_load_errors_are_one_line(spec: str, match: str, user_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("def make(:\n")
    with pytest.raises(BadInputError, match=match) as info:
        build_model(spec.format(file=user_file, bad=bad), 10)
    assert "\n" not in str(info.value)


def test_default_input_shape_of_custom_spec() -> None:
    with pytest.raises(BadInputError, match="--input-shape"):
        default_input_shape("pkg.mod:factory")
    with pytest.raises(BadInputError, match="unknown model"):
        default_input_shape("nope")
    with pytest.raises(BadInputError):
        build_model("cnn", 0)
