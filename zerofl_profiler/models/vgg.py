"""A small VGG-style network: 3x3 conv-BN-ReLU stacks with max-pools, then two linear layers."""

from __future__ import annotations

from torch import nn

from .registry import check_input, register_model

#: channels per conv, "M" = 2x2 max-pool (a VGG-11-like layout at a quarter of the width).
SMALL_CFG: tuple[int | str, ...] = (32, "M", 64, "M", 128, 128, "M", 256, 256, "M")


@register_model("vgg", (3, 32, 32), "small VGG-style net: 6 conv3x3-BN-ReLU, 4 max-pools, 2 linear")
def vgg(num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32),
        cfg: tuple[int | str, ...] = SMALL_CFG) -> nn.Module:
    """Plain conv stacks: a dense-GEMM-heavy contrast to the residual and depthwise models."""
    pools = sum(1 for v in cfg if v == "M")
    c, h, w = check_input("vgg", input_shape, 2**pools)
    layers: list[nn.Module] = []
    cin = c
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1, bias=False), nn.BatchNorm2d(int(v)), nn.ReLU(inplace=True)]
            cin = int(v)
    flat = cin * (h // 2**pools) * (w // 2**pools)
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, 256), nn.ReLU(inplace=True),
                         nn.Linear(256, num_classes))
