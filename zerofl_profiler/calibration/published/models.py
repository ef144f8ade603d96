"""The networks of the published measurements, written layer for layer after their sources.

The FLOP counter prices what these modules run, so each follows the code the measurement ran:

* ``mnn_lenet``: MNN ``tools/train/source/models/Lenet.cpp`` (conv 1->20 5x5, max-pool, conv
  20->50 5x5, max-pool, linear 800->400, ReLU, dropout, linear 400->10), 1x28x28 input.
* ``mnn_alexnet``: MNN ``tools/train/source/models/Alexnet.cpp`` (11x11/4 VALID conv to 96,
  5x5 SAME to 256, three 3x3 SAME convs, three 3/2 max-pools, linear 6400->4096->10), 3x224x224.
* ``mnn_squeezenet``: MNN ``tools/train/source/models/SqueezeNet.cpp`` (7x7/2 conv to 96, eight fire
  modules, no activations, 1x1 conv to 10 classes, average pool), 3x224x224.
* ``mnn_googlenet``: MNN ``tools/train/source/models/GoogLeNet.cpp`` (7x7/2 and 3x3 convs, nine
  inception modules, no activations, average pool, 1x1 conv to 10 classes), 3x224x224.

  Both constructors reuse one ``NN::ConvOption`` after setting ``convOption.stride = {2, 2}`` for
  the 7x7 stem and never call ``convOption.reset()`` (``Alexnet.cpp`` and ``Lenet.cpp`` do), and
  ``NN::ConvOption`` is a plain struct (``include/MNN/expr/NN.hpp``), so every later convolution of
  the constructor runs at stride 2 too: GoogLeNet's 3x3 conv to 192 (its inceptions then run at
  14, 7 and 4 pixels, not 28, 14 and 7) and its 1x1 classifier, SqueezeNet's 1x1 classifier (14 ->
  7 pixels); the fire and inception modules build their own options (stride 1). MNN clamps a
  pooling window to its input (``source/shape/ShapePool.cpp``: ``kernelWidth = std::min(
  layer->kernelX(), w)``), so the 7x7 and 14x14 average pools cover the 4x4 and 7x7 maps.
  Read in UbiquitousLearning/Benchmark-On-Device-Training @ 752659f, the MNN the rows ran.
* ``shufflenet_v2``: ShuffleNetV2 1.0 for CIFAR-100 as Zeus's own CIFAR-100 example defines it
  (``examples/ZeusDataLoader/cifar100/models/shufflenetv2.py``), 3x32x32.
* ``mobilenet_v2``: MobileNetV2 1.0 (Sandler et al. 2018; MNN ``MobilenetV2.cpp`` builds the same
  inverted-residual table), 1001 classes as MNN's default, 3x224x224.
* ``resnet50_v15``, ``resnext101_32x4d``, ``se_resnext101_32x4d``: NVIDIA DeepLearningExamples'
  ``ResNet`` (``PyTorch/Classification/ConvNets/image_classification/models/resnet.py`` and the
  ``SqueezeAndExcitation`` of ``common.py`` @ 729963d): ResNet-50 v1.5 (stride 2 in the 3x3 conv of a
  down-sampling bottleneck), ResNeXt-101 32x4d (layers 3, 4, 23, 3; bottleneck widths 128, 256, 512,
  1024 with 32 groups in the 3x3 conv; expansion 2) and SE-ResNeXt-101 32x4d (the same with a
  squeeze-and-excitation of 16 units after each block's last batch norm, fused into the residual as
  ``addcmul``), 1000 classes, 3x224x224.
* ``efficientnet_b0``, ``efficientnet_b4``, ``efficientnet_widese_b0``, ``efficientnet_widese_b4``:
  DeepLearningExamples' ``EfficientNet`` (``efficientnet.py`` @ 729963d: ``effnet_b0_layers`` and its
  ``scale``, ``MBConvBlock``, ``SequentialSqueezeAndExcitation``, ``StochasticDepthResidual``; SiLU),
  1000 classes, at the image size of ``configs.yml`` (224 for B0, 380 for B4).

torch is imported by this module only; the rows and the fit never need it.
"""

from __future__ import annotations

import math
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


class _Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, e1: int, e3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.e1 = nn.Conv2d(squeeze, e1, 1)
        self.e3 = nn.Conv2d(squeeze, e3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return torch.cat([self.e1(x), self.e3(x)], 1)


def mnn_squeezenet() -> nn.Module:
    """SqueezeNet as MNN's training benchmark builds it (SAME padding, no activations, stride-2 classifier)."""
    fires = [(96, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128), "pool", (256, 32, 128, 128),
             (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256), "pool", (512, 64, 256, 256)]
    layers: list[nn.Module] = [nn.Conv2d(3, 96, 7, 2, 3), nn.MaxPool2d(3, 2, 1)]
    layers += [nn.MaxPool2d(3, 2, 1) if f == "pool" else _Fire(*f) for f in fires]
    layers += [nn.Conv2d(512, 10, 1, 2), nn.AvgPool2d(7), nn.Flatten()]  # stride 2 carried over (docstring)
    return nn.Sequential(*layers)


class _Inception(nn.Module):
    def __init__(self, cin: int, c1: int, r3: int, c3: int, r5: int, c5: int, cp: int) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(cin, c1, 1)
        self.b3 = nn.Sequential(nn.Conv2d(cin, r3, 1), nn.Conv2d(r3, c3, 3, padding=1))
        self.b5 = nn.Sequential(nn.Conv2d(cin, r5, 1), nn.Conv2d(r5, c5, 5, padding=2))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, cp, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


def mnn_googlenet() -> nn.Module:
    """GoogLeNet as MNN's training benchmark builds it (SAME padding, no activations, stride-2 3x3 conv)."""
    inc = [(192, 64, 96, 128, 16, 32, 32), (256, 128, 128, 192, 32, 96, 64), "pool",
           (480, 192, 96, 208, 16, 48, 64), (512, 160, 112, 224, 24, 64, 64), (512, 128, 128, 256, 24, 64, 64),
           (512, 112, 144, 288, 32, 64, 64), (528, 256, 160, 320, 32, 128, 128), "pool",
           (832, 256, 160, 320, 32, 128, 128), (832, 384, 192, 384, 48, 128, 128)]
    # the 3x3 conv and the classifier keep the stem's stride 2 (docstring): 56 -> 28 pixels, then 14, 7, 4
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3), nn.MaxPool2d(3, 2, 1), nn.Conv2d(64, 192, 3, 2, 1),
                               nn.MaxPool2d(3, 2, 1)]
    layers += [nn.MaxPool2d(3, 2, 1) if i == "pool" else _Inception(*i) for i in inc]
    layers += [nn.AvgPool2d(4), nn.Conv2d(1024, 10, 1, 2), nn.Flatten(), nn.Softmax(-1)]
    return nn.Sequential(*layers)


class _ShuffleUnit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.split = stride == 1 and cin == cout
        if not self.split:
            self.residual = nn.Sequential(
                nn.Conv2d(cin, cin, 1), nn.BatchNorm2d(cin), nn.ReLU(),
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, cout // 2, 1), nn.BatchNorm2d(cout // 2), nn.ReLU())
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, cout // 2, 1), nn.BatchNorm2d(cout // 2), nn.ReLU())
        else:
            c = cin // 2
            self.residual = nn.Sequential(
                nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c, 3, 1, 1, groups=c),
                nn.BatchNorm2d(c), nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU())
            self.shortcut = nn.Sequential()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.split:
            short, res = torch.split(x, x.shape[1] // 2, dim=1)
        else:
            short, res = x, x
        y = torch.cat([self.shortcut(short), self.residual(res)], 1)
        b, c, h, w = y.shape
        return y.view(b, 2, c // 2, h, w).transpose(1, 2).contiguous().view(b, c, h, w)


def shufflenet_v2(num_classes: int = 100) -> nn.Module:
    """ShuffleNetV2 1.0 for 32x32 inputs (Zeus's CIFAR-100 example)."""
    outs = (116, 232, 464, 1024)
    layers: list[nn.Module] = [nn.Conv2d(3, 24, 3, padding=1), nn.BatchNorm2d(24)]
    cin = 24
    for cout, repeat in zip(outs[:3], (3, 7, 3)):
        layers.append(_ShuffleUnit(cin, cout, 2))
        layers += [_ShuffleUnit(cout, cout, 1) for _ in range(repeat)]
        cin = cout
    layers += [nn.Conv2d(cin, outs[3], 1), nn.BatchNorm2d(outs[3]), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
               nn.Flatten(), nn.Linear(outs[3], num_classes)]
    return nn.Sequential(*layers)


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


class _SqueezeExcitation(nn.Module):
    """DeepLearningExamples' ``SqueezeAndExcitation``: spatial mean, linear to ``squeeze`` units, ReLU,
    linear back, sigmoid (``squeeze`` is a width, 16, not a ratio)."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.squeeze = nn.Linear(channels, squeeze)
        self.expand = nn.Linear(squeeze, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.sigmoid(self.expand(torch.relu(self.squeeze(torch.mean(x, [2, 3])))))
        return out.unsqueeze(2).unsqueeze(3)


class _Bottleneck(nn.Module):
    """DeepLearningExamples' ``Bottleneck``: 1x1, 3x3 (stride, ``groups``), 1x1 to ``width * expansion``,
    optionally squeeze-and-excitation fused into the residual (``addcmul``, its ``fused_se`` default)."""

    def __init__(self, cin: int, width: int, stride: int, groups: int = 1, expansion: int = 4,
                 se_squeeze: int | None = None) -> None:
        super().__init__()
        cout = width * expansion
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else None)
        self.se = _SqueezeExcitation(cout, se_squeeze) if se_squeeze is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        residual = x if self.down is None else self.down(x)
        if self.se is None:
            return torch.relu(out + residual)
        return torch.relu(torch.addcmul(residual, out, self.se(out)))


def _dle_resnet(blocks: tuple[int, ...], widths: tuple[int, ...], expansion: int, groups: int = 1,
                se_squeeze: int | None = None, num_classes: int = 1000) -> nn.Module:
    """DeepLearningExamples' ``ResNet`` (``image_classification/models/resnet.py``) at 224x224: 7x7/2 stem to
    64, 3/2 max-pool, four stages (stride 2 in the 3x3 conv of each later stage's first block), average
    pool, linear."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                               nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for stage, (width, n) in enumerate(zip(widths, blocks)):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            layers.append(_Bottleneck(cin, width, stride, groups, expansion, se_squeeze))
            cin = width * expansion
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


def resnet50_v15(num_classes: int = 1000) -> nn.Module:
    """ResNet-50 v1.5 at 224x224 (DeepLearningExamples' ``resnet50``: layers 3, 4, 6, 3, widths 64-512, x4)."""
    return _dle_resnet((3, 4, 6, 3), (64, 128, 256, 512), 4, num_classes=num_classes)


def resnext101_32x4d(num_classes: int = 1000) -> nn.Module:
    """DeepLearningExamples' ``resnext101-32x4d``: layers 3, 4, 23, 3, widths 128-1024, x2, cardinality 32."""
    return _dle_resnet((3, 4, 23, 3), (128, 256, 512, 1024), 2, groups=32, num_classes=num_classes)


def se_resnext101_32x4d(num_classes: int = 1000) -> nn.Module:
    """DeepLearningExamples' ``se-resnext101-32x4d``: ResNeXt-101 32x4d with ``SEBottleneck`` (squeeze 16)."""
    return _dle_resnet((3, 4, 23, 3), (128, 256, 512, 1024), 2, groups=32, se_squeeze=16,
                       num_classes=num_classes)


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    """DeepLearningExamples' ``LayerBuilder.conv(..., bn=True, act=...)``: bias-free conv, padding (k-1)/2,
    batch norm, SiLU."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.SiLU()) if act else nn.Sequential(*layers)


class _StochasticDepth(nn.Module):
    """DeepLearningExamples' ``StochasticDepthResidual`` in training: a dropout of a one-element mask
    (no gradient), then ``addcmul(residual, mask, x)``."""

    def __init__(self, survival_prob: float) -> None:
        super().__init__()
        self.survival_prob = survival_prob
        self.register_buffer("mask", torch.ones(()), persistent=False)

    def forward(self, residual: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            mask = nn.functional.dropout(self.mask, p=1 - self.survival_prob, training=self.training)
        return torch.addcmul(residual, mask, x)


class _MBConv(nn.Module):
    """DeepLearningExamples' ``MBConvBlock``: 1x1 expansion (absent at ratio 1), depthwise k x k, a
    squeeze-and-excitation (spatial mean, linear, SiLU, linear, sigmoid, times the input) of
    ``int(0.25 * base)`` units (base: the block's input width; the hidden width in the WideSE models),
    1x1 projection; the residual when the shape is kept."""

    def __init__(self, k: int, cin: int, cout: int, expand: int, stride: int, wide_se: bool,
                 survival_prob: float) -> None:
        super().__init__()
        hidden = cin * expand
        squeeze = max(1, int((hidden if wide_se else cin) * 0.25))
        self.expand = None if expand == 1 else _conv_bn(cin, hidden, 1)
        self.depsep = _conv_bn(hidden, hidden, k, stride, groups=hidden)
        self.se_squeeze, self.se_expand = nn.Linear(hidden, squeeze), nn.Linear(squeeze, hidden)
        self.proj = _conv_bn(hidden, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout
        self.drop = _StochasticDepth(survival_prob) if self.residual and survival_prob != 1.0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depsep(x if self.expand is None else self.expand(x))
        se = torch.mean(h, [2, 3])
        se = torch.sigmoid(self.se_expand(nn.functional.silu(self.se_squeeze(se)))).unsqueeze(2).unsqueeze(3)
        b = self.proj(se * h)
        if not self.residual:
            return b
        return torch.add(x, b) if self.drop is None else self.drop(x, b)


#: EfficientNet-B0's stages (``effnet_b0_layers``): kernel, stride, repeats, expansion, channels
_EFFNET_B0 = ((3, 1, 1, 1, 16), (3, 2, 2, 6, 24), (5, 2, 2, 6, 40), (3, 2, 3, 6, 80), (5, 1, 3, 6, 112),
              (5, 2, 4, 6, 192), (3, 1, 1, 6, 320))


def _scale_width(c: int, wc: float, divisor: int = 8) -> int:
    """``EffNetArch._scale_width``: round to a multiple of 8, never more than 10% down."""
    c_ = c * wc
    r = max(divisor, int(c_ + divisor / 2) // divisor * divisor)
    return r + divisor if r < 0.9 * c_ else r


def _efficientnet(wc: float, dc: float, dropout: float, survival_prob: float, wide_se: bool,
                  num_classes: int = 1000) -> nn.Module:
    """DeepLearningExamples' ``EfficientNet`` (``image_classification/models/efficientnet.py``) scaled by
    width ``wc`` and depth ``dc`` as ``EffNetArch.scale``; stochastic depth per block as
    ``_get_survival_prob`` (1 - (1 - survival_prob) * block / blocks, 1 for a block that changes shape)."""
    stages = [(k, s, int(math.ceil(r * dc)), e, _scale_width(c, wc)) for k, s, r, e, c in _EFFNET_B0]
    blocks = sum(r for _, _, r, _, _ in stages)
    stem = _scale_width(32, wc)
    layers: list[nn.Module] = [_conv_bn(3, stem, 3, 2)]
    cin, done = stem, 0
    for k, s, r, e, c in stages:
        for i in range(r):
            sp = 1.0 - (1.0 - survival_prob) * float(done + i) / blocks
            layers.append(_MBConv(k, cin, c, e, s if i == 0 else 1, wide_se, sp))
            cin = c
        done += r
    feat = _scale_width(1280, wc)
    layers += [_conv_bn(cin, feat, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
               nn.Linear(feat, num_classes)]
    return nn.Sequential(*layers)


def efficientnet_b0() -> nn.Module:
    """DeepLearningExamples' ``efficientnet-b0`` (dropout 0.2, no stochastic depth), 224x224."""
    return _efficientnet(1.0, 1.0, 0.2, 1.0, False)


def efficientnet_b4() -> nn.Module:
    """DeepLearningExamples' ``efficientnet-b4`` (width 1.4, depth 1.8, dropout 0.4, survival 0.8), 380x380."""
    return _efficientnet(1.4, 1.8, 0.4, 0.8, False)


def efficientnet_widese_b0() -> nn.Module:
    """DeepLearningExamples' ``efficientnet-widese-b0``: B0 with squeeze-and-excitation on the hidden width."""
    return _efficientnet(1.0, 1.0, 0.2, 1.0, True)


def efficientnet_widese_b4() -> nn.Module:
    """DeepLearningExamples' ``efficientnet-widese-b4``: B4 with squeeze-and-excitation on the hidden width."""
    return _efficientnet(1.4, 1.8, 0.4, 0.8, True)


#: model name used in the published rows -> (factory, input shape)
PUBLISHED_MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, int, int]]] = {
    "mnn-lenet": (mnn_lenet, (1, 28, 28)),
    "mnn-alexnet": (mnn_alexnet, (3, 224, 224)),
    "mnn-squeezenet": (mnn_squeezenet, (3, 224, 224)),
    "mnn-googlenet": (mnn_googlenet, (3, 224, 224)),
    "shufflenet-v2": (shufflenet_v2, (3, 32, 32)),
    "mobilenet-v2": (mobilenet_v2, (3, 224, 224)),
    "resnet50-v1.5": (resnet50_v15, (3, 224, 224)),
    "resnext101-32x4d": (resnext101_32x4d, (3, 224, 224)),
    "se-resnext101-32x4d": (se_resnext101_32x4d, (3, 224, 224)),
    "efficientnet-b0": (efficientnet_b0, (3, 224, 224)),
    "efficientnet-b4": (efficientnet_b4, (3, 380, 380)),
    "efficientnet-widese-b0": (efficientnet_widese_b0, (3, 224, 224)),
    "efficientnet-widese-b4": (efficientnet_widese_b4, (3, 380, 380)),
}
