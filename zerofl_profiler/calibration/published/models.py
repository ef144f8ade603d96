"""The networks of the published measurements, written layer for layer after their sources.

The FLOP counter prices what these modules run, so each follows the code the measurement ran:

* ``mnn_lenet``: MNN ``tools/train/source/models/Lenet.cpp`` (conv 1->20 5x5, max-pool, conv
  20->50 5x5, max-pool, linear 800->400, ReLU, dropout, linear 400->10), 1x28x28 input.
* ``mnn_alexnet``: MNN ``tools/train/source/models/Alexnet.cpp`` (11x11/4 VALID conv to 96,
  5x5 SAME to 256, three 3x3 SAME convs, three 3/2 max-pools, linear 6400->4096->10), 3x224x224.
* ``mobilenet_v2``: MobileNetV2 1.0 (Sandler et al. 2018; MNN ``MobilenetV2.cpp`` builds the same
  inverted-residual table), 1001 classes as MNN's default, 3x224x224.
* ``resnet50_v15``: ResNet-50 v1.5 (stride 2 in the 3x3 conv of a down-sampling bottleneck, as
  NVIDIA DeepLearningExamples describes it), 1000 classes, 3x224x224.

torch is imported by this module only; the rows and the fit never need it.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def mnn_lenet() -> nn.Module:
    """LeNet as MNN's training demo defines it."""
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2), nn.Flatten(),
        nn.Linear(800, 400), nn.ReLU(), nn.Dropout(0.5), nn.Linear(400, 10))


def mnn_alexnet() -> nn.Module:
    """AlexNet as MNN's training benchmark defines it."""
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, 4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.MaxPool2d(3, 2), nn.Flatten(),
        nn.Linear(256 * 5 * 5, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Dropout(0.5), nn.Linear(4096, 10))


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                   nn.ReLU6(), nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


def mobilenet_v2(num_classes: int = 1001) -> nn.Module:
    """MobileNetV2 1.0 at 224x224."""
    table = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
             (6, 320, 1, 1))
    layers: list[nn.Module] = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()]
    cin = 32
    for t, c, n, s in table:
        for i in range(n):
            layers.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
            cin = c
    layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6(), nn.AdaptiveAvgPool2d(1),
               nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, num_classes)]
    return nn.Sequential(*layers)


class _Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * 4
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + (x if self.down is None else self.down(x)))


def resnet50_v15(num_classes: int = 1000) -> nn.Module:
    """ResNet-50 v1.5 at 224x224."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                               nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(_Bottleneck(cin, width, stride if i == 0 else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, num_classes)]
    return nn.Sequential(*layers)


#: model name used in the published rows -> (factory, input shape)
PUBLISHED_MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, int, int]]] = {
    "mnn-lenet": (mnn_lenet, (1, 28, 28)),
    "mnn-alexnet": (mnn_alexnet, (3, 224, 224)),
    "mobilenet-v2": (mobilenet_v2, (3, 224, 224)),
    "resnet50-v1.5": (resnet50_v15, (3, 224, 224)),
}
