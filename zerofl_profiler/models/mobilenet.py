"""A MobileNet-style (v1) network of depthwise-separable blocks for 32x32 inputs, with ReLU6."""

from __future__ import annotations

import torch
from torch import nn

from .registry import check_input, register_model

#: (output channels, stride) of each depthwise-separable block: MobileNet v1 at CIFAR scale.
CIFAR_CFG: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (1024, 2), (1024, 1))


class DepthwiseSeparable(nn.Module):
    """3x3 depthwise conv + BN + ReLU6, then 1x1 pointwise conv + BN + ReLU6."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.act1 = nn.ReLU6(inplace=True)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act2 = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act2(self.bn2(self.pointwise(self.act1(self.bn1(self.depthwise(x))))))


class MobileNet(nn.Module):
    """Stem conv, depthwise-separable blocks, global average pool, linear head."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0,
                 cfg: tuple[tuple[int, int], ...] = CIFAR_CFG) -> None:
        super().__init__()
        stem = max(8, int(32 * width_mult))
        self.conv1 = nn.Conv2d(in_channels, stem, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.act = nn.ReLU6(inplace=True)
        blocks, cin = [], stem
        for cout, stride in cfg:
            cout = max(8, int(cout * width_mult))
            blocks.append(DepthwiseSeparable(cin, cout, stride))
            cin = cout
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.features(self.act(self.bn1(self.conv1(x))))
        return self.classifier(self.flatten(self.pool(out)))


@register_model("mobilenet", (3, 32, 32), "MobileNet-v1-style depthwise-separable net (ReLU6, 2.1M params)")
def mobilenet(num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32), width_mult: float = 1.0
              ) -> nn.Module:
    """The depthwise layers exercise grouped-conv counting (where torch's backward formula is wrong)."""
    c, _, _ = check_input("mobilenet", input_shape, 8)
    return MobileNet(num_classes, c, width_mult)
