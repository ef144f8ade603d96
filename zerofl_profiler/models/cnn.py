"""A small CNN for 8x8 (digits) and 28x28 (MNIST-like) inputs: the training engine's default model."""

from __future__ import annotations

from torch import nn

from .registry import check_input, register_model


@register_model("cnn", (1, 8, 8), "small CNN for 8x8 / 28x28 inputs: 2 conv(3x3)+ReLU+max-pool, 2 linear")
def cnn(num_classes: int = 10, input_shape: tuple[int, ...] = (1, 8, 8), width: int = 16,
        batch_norm: bool = False) -> nn.Module:
    """Small and fast so ~20 FL rounds on 2 CPU cores finish in seconds; BN optional (off by default,
    since batch statistics suffer under non-IID clients)."""
    c, h, w = check_input("cnn", input_shape, 4)

    def block(cin: int, cout: int) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(cout))
        return layers + [nn.ReLU(inplace=True), nn.MaxPool2d(2)]

    flat = 2 * width * (h // 4) * (w // 4)
    return nn.Sequential(
        *block(c, width), *block(width, 2 * width), nn.Flatten(),
        nn.Linear(flat, 64), nn.ReLU(inplace=True), nn.Linear(64, num_classes))
