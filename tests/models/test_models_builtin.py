"""Built-in models: shapes, parameter counts, input checks, and that the default CNN learns digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zerofl_profiler
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.models import MODELS, build_model, default_input_shape


@pytest.mark.parametrize("name", sorted(MODELS))
def test_builtin_forward_shape(name: str) -> None:
    shape = default_input_shape(name)
    model = build_model(name, 7, shape)
    out = model(torch.randn(2, *shape))
    assert out.shape == (2, 7)


def test_registry_names_and_defaults() -> None:
    assert {"resnet18", "cnn", "mobilenet", "vgg", "lenet"} <= set(MODELS)
    assert default_input_shape("resnet18") == (3, 32, 32)
    assert default_input_shape("cnn") == (1, 8, 8)


def test_resnet18_is_zerofls() -> None:
    m = build_model("resnet18", 10, (3, 32, 32))
    assert sum(p.numel() for p in m.parameters()) == 11_173_962  # the CIFAR ResNet-18 of ZeroFL/SWAT
    assert m.conv1.kernel_size == (3, 3) and m.conv1.stride == (1, 1)
    assert not any(isinstance(x, torch.nn.MaxPool2d) for x in m.modules())
    assert [len(getattr(m, f"layer{i}")) for i in range(1, 5)] == [2, 2, 2, 2]
    assert m.linear.in_features == 512


def test_mobilenet_is_depthwise() -> None:
    m = build_model("mobilenet")
    dw = [c for c in m.modules() if isinstance(c, torch.nn.Conv2d) and c.groups > 1]
    assert dw and all(c.groups == c.in_channels == c.out_channels for c in dw)


@pytest.mark.parametrize("name,shape", [("cnn", (1, 28, 28)), ("lenet", (3, 32, 32)), ("vgg", (3, 64, 48)),
                                        ("resnet18", (1, 16, 16)), ("mobilenet", (3, 16, 16))])
def test_other_input_shapes(name: str, shape: tuple[int, int, int]) -> None:
    assert build_model(name, 3, shape)(torch.randn(2, *shape)).shape == (2, 3)


@pytest.mark.parametrize("name,shape", [("lenet", (1, 8, 8)), ("vgg", (3, 8, 8)), ("cnn", (8, 8)),
                                        ("resnet18", (3, 4, 4))])
def test_too_small_or_malformed_inputs(name: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(BadInputError):
        build_model(name, 10, shape)


def test_cnn_learns_digits(request: pytest.FixtureRequest) -> None:
    """The engine's default model must learn the shipped 8x8 digits well, fast (here centrally)."""
    data = np.load(Path(zerofl_profiler.__file__).parent / "data" / "digits.npz")
    x = torch.tensor(data["images"], dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(data["labels"], dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y), generator=g)
    tr, te = perm[:1400], perm[1400:]
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny GEMMs: extra threads only add contention on a busy 2-core box
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    model = build_model("cnn", 10, (1, 8, 8))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(8):
        for idx in tr[torch.randperm(len(tr), generator=g)].split(32):
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    with torch.no_grad():
        acc = (model(x[te]).argmax(1) == y[te]).float().mean().item()
    assert acc > 0.9
